SELECT COUNT(*) AS rows_quarantined
FROM (
    SELECT DISTINCT extract, source_file, row_number
    FROM quarantine
    WHERE partition_key = :period OR partition_key = ''
) AS held

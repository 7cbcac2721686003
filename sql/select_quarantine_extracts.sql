SELECT extract, partition_key, COUNT(*) AS problems, COUNT(DISTINCT source_file || ':' || CAST(row_number AS VARCHAR)) AS rows_quarantined
FROM quarantine
GROUP BY extract, partition_key
ORDER BY partition_key DESC, extract

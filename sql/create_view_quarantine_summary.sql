CREATE VIEW v_quarantine_summary AS
SELECT extract,
       CASE WHEN partition_key = '' THEN CAST(NULL AS VARCHAR) ELSE partition_key END AS period,
       source_file,
       column_name,
       reason,
       COUNT(*) AS problems,
       COUNT(DISTINCT row_number) AS rows_quarantined,
       MIN(row_number) AS first_row,
       MAX(row_number) AS last_row,
       MAX(quarantined_at) AS last_quarantined_at
FROM (
    -- Repeated keys are one group per key, not one per repetition: a duplicate's reason names the
    -- row it repeats ("duplicate entity, document_id, line (first at row 12)"), which is left out
    -- here when that row is in the same file (RTRIM with a set of characters is portable).
    SELECT extract, partition_key, source_file, column_name, row_number, quarantined_at,
           CASE WHEN reason LIKE 'duplicate % (first at row %' AND RTRIM(reason, '0123456789)') LIKE '% (first at row '
                THEN SUBSTR(RTRIM(reason, '0123456789)'), 1, LENGTH(RTRIM(reason, '0123456789)')) - LENGTH(' (first at row '))
                ELSE reason END AS reason
    FROM quarantine
) AS problems
GROUP BY extract, partition_key, source_file, column_name, reason

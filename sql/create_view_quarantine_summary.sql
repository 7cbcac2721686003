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
FROM quarantine
GROUP BY extract, partition_key, source_file, column_name, reason

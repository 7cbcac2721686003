SELECT source_file, row_number, column_name, bad_value, reason
FROM quarantine
WHERE extract = :extract
  AND partition_key = :partition_key
ORDER BY source_file, row_number, column_name

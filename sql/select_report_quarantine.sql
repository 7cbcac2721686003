SELECT extract, period, source_file, column_name, reason, problems, rows_quarantined, first_row, last_row
FROM v_quarantine_summary
WHERE period = :period OR period IS NULL
ORDER BY extract, source_file, column_name, reason

SELECT suggestion_id, source_file, row_number, original_cost_center, decided_cost_center, decided_by, decided_at, raw_row
FROM cost_center_suggestions
WHERE extract = :extract
  AND period = :period
  AND status = 'accepted'
ORDER BY source_file, row_number

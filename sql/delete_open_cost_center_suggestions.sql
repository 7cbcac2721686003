DELETE FROM cost_center_suggestions
WHERE period = :period
  AND status = 'open'

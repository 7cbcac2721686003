UPDATE cost_center_suggestions
SET status = :status,
    decided_cost_center = :decided_cost_center,
    decided_by = :decided_by,
    decided_at = :decided_at,
    decision_note = :decision_note
WHERE suggestion_id = :suggestion_id
  AND status = 'open'

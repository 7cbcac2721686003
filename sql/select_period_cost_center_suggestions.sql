SELECT s.suggestion_id, s.period, s.extract, s.source_file, s.row_number, s.entity, s.document_id, s.line, s.account, s.vendor,
       s.document_type, s.description, CAST(ROUND(s.amount * 100) AS BIGINT) AS amount_cents, s.original_cost_center, s.problem,
       s.suggested_cost_center, s.confidence, s.label, s.runner_up, s.runner_up_confidence, s.support_lines, s.support_share,
       s.trained_lines, s.sentence, s.raw_row, s.status, s.decided_cost_center, s.decided_by, s.decided_at, s.decision_note, s.created_at,
       c.outcome AS applied_outcome, c.dagster_run_id AS applied_run_id, c.applied_at
FROM cost_center_suggestions AS s
LEFT JOIN cost_center_corrections AS c ON c.suggestion_id = s.suggestion_id AND c.period = s.period
WHERE s.period = :period
ORDER BY s.extract, s.source_file, s.row_number

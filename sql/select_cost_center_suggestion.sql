SELECT suggestion_id, period, extract, source_file, row_number, entity, document_id, line, account, vendor, document_type, description,
       CAST(ROUND(amount * 100) AS BIGINT) AS amount_cents, original_cost_center, problem, suggested_cost_center, confidence, label,
       runner_up, runner_up_confidence, support_lines, support_share, trained_lines, sentence, raw_row, status, decided_cost_center,
       decided_by, decided_at, decision_note, created_at
FROM cost_center_suggestions
WHERE suggestion_id = :suggestion_id

SELECT r.run_id, l.account,
       CAST(ROUND(SUM(l.credit - l.debit) * 100) AS BIGINT) AS cents
FROM allocation_runs AS r
JOIN allocation_lines AS l ON l.run_id = r.run_id
WHERE r.source_document = :document_id
  AND r.status IN ('draft', 'calculated', 'approved', 'posted')
  AND l.role = 'source'
  AND r.run_id <> :exclude_run_id
  AND (CAST(:exclude_rule_id AS VARCHAR) IS NULL OR r.rule_id IS NULL OR r.rule_id <> CAST(:exclude_rule_id AS VARCHAR))
GROUP BY r.run_id, l.account
ORDER BY r.run_id, l.account

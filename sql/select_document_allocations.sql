SELECT r.run_id, l.account,
       CAST(ROUND(SUM(l.credit - l.debit) * 100) AS BIGINT) AS cents
FROM allocation_runs AS r
JOIN allocation_lines AS l ON l.run_id = r.run_id
WHERE r.source_document = :document_id
  AND r.status IN ('draft', 'calculated', 'approved', 'posted')
  AND l.role = 'source'
  AND r.run_id <> :exclude_run_id
  AND (CAST(:recomputed_period AS VARCHAR) IS NULL OR r.origin <> 'pipeline' OR r.period <> CAST(:recomputed_period AS VARCHAR))
GROUP BY r.run_id, l.account
ORDER BY r.run_id, l.account

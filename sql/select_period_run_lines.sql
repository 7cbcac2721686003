SELECT r.run_id, r.entity, r.currency, l.account, l.cost_center, l.product, l.region,
       CAST(ROUND(l.debit * 100) AS BIGINT) AS debit_cents,
       CAST(ROUND(l.credit * 100) AS BIGINT) AS credit_cents
FROM allocation_runs AS r
JOIN allocation_lines AS l ON l.run_id = r.run_id
WHERE r.period = :period
  AND r.origin <> :exclude_origin
  AND r.status IN ('calculated', 'approved', 'posted')
ORDER BY r.run_number, l.line_no

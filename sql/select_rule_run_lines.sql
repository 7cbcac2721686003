SELECT r.run_id, r.rule_id, r.entity, r.currency, r.method, r.status, l.line_no, l.role, l.account, l.cost_center,
       l.product, l.region,
       CAST(ROUND(l.debit * 100) AS BIGINT) AS debit_cents,
       CAST(ROUND(l.credit * 100) AS BIGINT) AS credit_cents,
       l.driver, l.driver_value, l.share
FROM allocation_runs AS r
JOIN allocation_lines AS l ON l.run_id = r.run_id
WHERE r.period = :period
  AND r.origin = :origin
  AND r.status IN ('calculated', 'approved', 'posted')
ORDER BY r.run_number, l.line_no

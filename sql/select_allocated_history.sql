SELECT r.period, COALESCE(r.rule_id, r.origin) AS rule_id, r.entity, r.currency, l.cost_center,
       CAST(ROUND(SUM(l.debit - l.credit) * 100) AS BIGINT) AS amount_cents
FROM allocation_runs AS r
JOIN allocation_lines AS l ON l.run_id = r.run_id
WHERE r.period >= :first_period
  AND r.period <= :last_period
  AND r.status IN ('calculated', 'approved', 'posted')
  AND l.role = 'target'
GROUP BY r.period, COALESCE(r.rule_id, r.origin), r.entity, r.currency, l.cost_center
ORDER BY r.period, 2, r.entity, l.cost_center

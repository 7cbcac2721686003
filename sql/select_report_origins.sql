SELECT m.run_id, m.cost_center, m.origin, CAST(ROUND(m.amount * 100) AS BIGINT) AS amount_cents
FROM multilevel_origins AS m
JOIN allocation_runs AS r ON r.run_id = m.run_id
WHERE r.period = :period AND r.entity = :entity AND r.status = 'posted' AND m.origin <> m.cost_center
ORDER BY m.run_id, m.cost_center, m.origin

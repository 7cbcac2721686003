SELECT cost_center, cost_center_name, cost_center_kind, component, run_id, rule_id, origin,
       CAST(ROUND(SUM(amount) * 100) AS BIGINT) AS amount_cents
FROM v_cost_object_cost
WHERE period = :period AND entity = :entity
GROUP BY cost_center, cost_center_name, cost_center_kind, component, run_id, rule_id, origin
ORDER BY cost_center, component, run_id, origin

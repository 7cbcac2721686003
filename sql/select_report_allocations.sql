SELECT run_id, pool, rule_id, run_origin, method, journal_entry_id, source_cost_center, source_account,
       line_no, account, account_name, cost_center, cost_center_name, cost_center_kind, product, region,
       CAST(ROUND(amount * 100) AS BIGINT) AS amount_cents,
       driver, driver_value, share, explanation
FROM v_allocations_by_pool
WHERE period = :period AND entity = :entity
ORDER BY run_id, line_no

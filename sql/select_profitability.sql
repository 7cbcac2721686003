SELECT period, entity, currency, cost_center,
       CAST(ROUND(revenue * 100) AS BIGINT) AS revenue_cents,
       CAST(ROUND(direct_cost * 100) AS BIGINT) AS direct_cost_cents,
       CAST(ROUND(allocated_cost * 100) AS BIGINT) AS allocated_cost_cents,
       CAST(ROUND(margin_before * 100) AS BIGINT) AS margin_before_cents,
       CAST(ROUND(margin * 100) AS BIGINT) AS margin_cents,
       margin_percent, largest_rule,
       CAST(ROUND(largest_rule_amount * 100) AS BIGINT) AS largest_rule_amount_cents,
       turned_unprofitable
FROM profitability
WHERE period = :period
ORDER BY entity, cost_center

SELECT entity, account, cost_center, COALESCE(product, '') AS product, COALESCE(region, '') AS region, currency,
       CAST(ROUND(SUM(balance) * 100) AS BIGINT) AS balance_cents
FROM gl_balances
WHERE period = :period
GROUP BY entity, account, cost_center, COALESCE(product, ''), COALESCE(region, ''), currency
HAVING SUM(balance) <> 0
ORDER BY entity, account, cost_center, product, region, currency

SELECT entity, account, cost_center, COALESCE(product, '') AS product, COALESCE(region, '') AS region, currency,
       CAST(ROUND(SUM(debit - credit) * 100) AS BIGINT) AS balance_cents
FROM gl_lines
WHERE period = :period
GROUP BY entity, account, cost_center, COALESCE(product, ''), COALESCE(region, ''), currency
HAVING SUM(debit - credit) <> 0
ORDER BY entity, account, cost_center, product, region, currency

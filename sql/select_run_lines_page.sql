SELECT l.line_no, l.role, l.account, a.name AS account_name, l.cost_center, c.name AS cost_center_name, l.product, l.region,
       CAST(ROUND(l.debit * 100) AS BIGINT) AS debit_cents,
       CAST(ROUND(l.credit * 100) AS BIGINT) AS credit_cents,
       l.driver, l.driver_value, l.share, l.explanation
FROM allocation_lines AS l
LEFT JOIN dim_accounts AS a ON a.account = l.account
LEFT JOIN dim_cost_centers AS c ON c.cost_center = l.cost_center
WHERE l.run_id = :run_id
ORDER BY l.line_no
LIMIT :limit OFFSET :offset

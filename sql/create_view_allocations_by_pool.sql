CREATE VIEW v_allocations_by_pool AS
WITH run_pools AS (
    SELECT run_id,
           CASE WHEN MIN(cost_center) = MAX(cost_center) THEN MIN(cost_center) END AS source_cost_center,
           CASE WHEN MIN(account) = MAX(account) THEN MIN(account) END AS source_account,
           COUNT(*) AS source_lines
    FROM allocation_lines
    WHERE role = 'source'
    GROUP BY run_id
)
SELECT r.period,
       r.entity,
       r.currency,
       COALESCE(r.rule_id, r.source_document, r.run_id) AS pool,
       r.run_id,
       r.rule_id,
       r.run_type,
       r.origin AS run_origin,
       r.method,
       r.source_document,
       r.journal_entry_id,
       p.source_cost_center,
       p.source_account,
       p.source_lines,
       r.pool_amount,
       l.line_no,
       l.account,
       a.name AS account_name,
       l.cost_center,
       c.name AS cost_center_name,
       c.kind AS cost_center_kind,
       l.product,
       l.region,
       l.debit - l.credit AS amount,
       l.driver,
       l.driver_value,
       l.share,
       l.explanation
FROM allocation_runs AS r
JOIN allocation_lines AS l ON l.run_id = r.run_id AND l.role = 'target'
LEFT JOIN run_pools AS p ON p.run_id = r.run_id
LEFT JOIN dim_accounts AS a ON a.account = l.account
LEFT JOIN dim_cost_centers AS c ON c.cost_center = l.cost_center
WHERE r.status = 'posted'

CREATE VIEW v_posted_journal_lines AS
SELECT e.entry_id,
       e.entity,
       e.period,
       e.posting_date,
       e.transaction_type,
       e.currency,
       e.run_id,
       r.rule_id,
       r.source_document,
       e.reverses_entry_id,
       l.line_no,
       l.account,
       a.name AS account_name,
       a.type AS account_type,
       l.cost_center,
       c.name AS cost_center_name,
       c.kind AS cost_center_kind,
       l.product,
       l.region,
       l.debit,
       l.credit,
       l.debit - l.credit AS net_amount,
       l.description,
       CASE WHEN e.reverses_entry_id IS NULL THEN 'entry' ELSE 'reversal' END AS entry_kind,
       r.status AS run_status,
       r.origin AS run_origin,
       r.method,
       c.function AS cost_center_function,
       c.parent AS cost_center_parent,
       pm.name AS product_name,
       rm.name AS region_name,
       e.dagster_run_id
FROM journal_entries AS e
JOIN journal_lines AS l ON l.entry_id = e.entry_id
LEFT JOIN allocation_runs AS r ON r.run_id = e.run_id
LEFT JOIN dim_accounts AS a ON a.account = l.account
LEFT JOIN dim_cost_centers AS c ON c.cost_center = l.cost_center
LEFT JOIN dim_dimension_members AS pm ON pm.dimension = 'product' AND pm.member = l.product
LEFT JOIN dim_dimension_members AS rm ON rm.dimension = 'region' AND rm.member = l.region

SELECT l.entry_id, l.line_no, l.account, a.name AS account_name, a.type AS account_type,
       l.cost_center, c.name AS cost_center_name, l.product, l.region,
       CAST(ROUND(l.debit * 100) AS BIGINT) AS debit_cents,
       CAST(ROUND(l.credit * 100) AS BIGINT) AS credit_cents,
       l.description
FROM journal_lines AS l
JOIN journal_entries AS e ON e.entry_id = l.entry_id
LEFT JOIN dim_accounts AS a ON a.account = l.account
LEFT JOIN dim_cost_centers AS c ON c.cost_center = l.cost_center
WHERE e.entity = :entity
  AND (e.period = :period
       OR e.run_id IN (SELECT r.run_id FROM allocation_runs AS r WHERE r.entity = :entity AND r.period BETWEEN :first_period AND :period))
ORDER BY l.entry_id, l.line_no

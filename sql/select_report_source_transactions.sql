WITH documents AS (
    SELECT g.cost_center, g.account, g.document_id, g.document_type,
           MIN(g.posting_date) AS posting_date, MIN(g.description) AS description,
           COUNT(*) AS lines, SUM(g.debit - g.credit) AS amount
    FROM gl_lines AS g
    WHERE g.period = :period AND g.entity = :entity
      AND g.account IN (SELECT a.account FROM dim_accounts AS a WHERE a.type = 'expense')
    GROUP BY g.cost_center, g.account, g.document_id, g.document_type
),
ranked AS (
    SELECT d.cost_center, d.account, d.document_id, d.document_type, d.posting_date, d.description, d.lines, d.amount,
           ROW_NUMBER() OVER (PARTITION BY d.cost_center, d.account ORDER BY ABS(d.amount) DESC, d.document_id) AS position,
           COUNT(*) OVER (PARTITION BY d.cost_center, d.account) AS account_documents,
           SUM(d.lines) OVER (PARTITION BY d.cost_center, d.account) AS account_lines,
           SUM(d.amount) OVER (PARTITION BY d.cost_center, d.account) AS account_total
    FROM documents AS d
)
SELECT r.cost_center, r.account, a.name AS account_name, r.document_id, r.document_type, r.posting_date, r.description, r.lines,
       CAST(ROUND(r.amount * 100) AS BIGINT) AS amount_cents,
       r.position, r.account_documents, r.account_lines,
       CAST(ROUND(r.account_total * 100) AS BIGINT) AS account_total_cents
FROM ranked AS r
LEFT JOIN dim_accounts AS a ON a.account = r.account
WHERE r.position <= :top_documents
ORDER BY r.cost_center, r.account, r.position

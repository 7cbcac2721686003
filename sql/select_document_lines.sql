SELECT g.entity, g.period, g.document_id, g.document_type, g.line, g.posting_date, g.account, a.name AS account_name,
       g.cost_center, g.product, g.region, g.currency,
       CAST(ROUND(g.debit * 100) AS BIGINT) AS debit_cents,
       CAST(ROUND(g.credit * 100) AS BIGINT) AS credit_cents,
       g.description
FROM gl_lines AS g
LEFT JOIN dim_accounts AS a ON a.account = g.account
WHERE g.document_id = :document_id
ORDER BY g.line

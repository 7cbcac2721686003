SELECT g.document_id, g.document_type, g.period, g.line, g.posting_date, g.account, a.name AS account_name,
       g.cost_center, g.product, g.region,
       CAST(ROUND(g.debit * 100) AS BIGINT) AS debit_cents,
       CAST(ROUND(g.credit * 100) AS BIGINT) AS credit_cents,
       g.description
FROM gl_lines AS g
LEFT JOIN dim_accounts AS a ON a.account = g.account
WHERE g.entity = :entity
  AND g.document_id IN (SELECT r.source_document FROM allocation_runs AS r
                        WHERE r.entity = :entity AND r.source_document IS NOT NULL
                          AND r.period BETWEEN :first_period AND :period)
ORDER BY g.document_id, g.line

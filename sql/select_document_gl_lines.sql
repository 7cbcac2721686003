SELECT entity, account, cost_center, product, region, currency,
       CAST(ROUND((debit - credit) * 100) AS BIGINT) AS balance_cents
FROM gl_lines
WHERE document_id = :document_id
ORDER BY line

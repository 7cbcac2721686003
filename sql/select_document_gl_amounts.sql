SELECT entity, account,
       CAST(ROUND(SUM(debit) * 100) AS BIGINT) AS debit_cents,
       CAST(ROUND(SUM(credit) * 100) AS BIGINT) AS credit_cents,
       MIN(period) AS period,
       MIN(cost_center) AS cost_center
FROM gl_lines
WHERE document_id = :document_id
GROUP BY entity, account
ORDER BY account

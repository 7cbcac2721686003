SELECT line_no, account, cost_center, product, region,
       CAST(ROUND(debit * 100) AS BIGINT) AS debit_cents,
       CAST(ROUND(credit * 100) AS BIGINT) AS credit_cents,
       description
FROM journal_lines
WHERE entry_id = :entry_id
ORDER BY line_no

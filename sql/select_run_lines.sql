SELECT line_no, role, account, cost_center, product, region,
       CAST(ROUND(debit * 100) AS BIGINT) AS debit_cents,
       CAST(ROUND(credit * 100) AS BIGINT) AS credit_cents,
       driver, driver_value, share, explanation
FROM allocation_lines
WHERE run_id = :run_id
ORDER BY line_no

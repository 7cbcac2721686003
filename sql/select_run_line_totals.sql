SELECT COUNT(*) AS lines,
       CAST(ROUND(COALESCE(SUM(debit), 0) * 100) AS BIGINT) AS debit_cents,
       CAST(ROUND(COALESCE(SUM(credit), 0) * 100) AS BIGINT) AS credit_cents
FROM allocation_lines
WHERE run_id = :run_id

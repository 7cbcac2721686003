SELECT run_id, entity, period, run_type, rule_id, source_document, currency,
       CAST(ROUND(total_debit * 100) AS BIGINT) AS total_debit_cents
FROM allocation_runs
WHERE period = :period AND status = :status
ORDER BY run_number

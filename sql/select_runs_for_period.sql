SELECT run_id, run_number, entity, period, run_type, rule_id, method, origin, source_document, status,
       currency, fingerprint, journal_entry_id,
       CAST(ROUND(total_debit * 100) AS BIGINT) AS total_debit_cents
FROM allocation_runs
WHERE period = :period
ORDER BY run_number

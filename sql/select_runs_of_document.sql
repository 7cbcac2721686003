SELECT run_id, status, period, journal_entry_id, reversal_entry_id, CAST(ROUND(total_debit * 100) AS BIGINT) AS total_debit_cents, currency
FROM allocation_runs
WHERE source_document = :document_id
ORDER BY run_number

SELECT run_id, run_number, entity, period, run_type, rule_id, method, origin, source_document, status, currency,
       CAST(ROUND(pool_amount * 100) AS BIGINT) AS pool_cents,
       CAST(ROUND(total_debit * 100) AS BIGINT) AS total_debit_cents,
       CAST(ROUND(total_credit * 100) AS BIGINT) AS total_credit_cents,
       fingerprint, notes, journal_entry_id, reversal_entry_id, dagster_run_id, created_at, updated_at
FROM allocation_runs
WHERE run_id = :run_id

SELECT r.run_id, r.run_number, r.entity, r.period, r.run_type, r.rule_id, r.method, r.origin, r.source_document,
       r.status, r.currency,
       CAST(ROUND(r.pool_amount * 100) AS BIGINT) AS pool_cents,
       CAST(ROUND(r.total_debit * 100) AS BIGINT) AS total_debit_cents,
       CAST(ROUND(r.total_credit * 100) AS BIGINT) AS total_credit_cents,
       r.notes, r.journal_entry_id, r.reversal_entry_id, r.dagster_run_id, r.created_at, r.updated_at
FROM allocation_runs AS r
WHERE r.entity = :entity
  AND (r.period BETWEEN :first_period AND :period
       OR r.run_id IN (SELECT j.run_id FROM journal_entries AS j WHERE j.entity = :entity AND j.period = :period))
ORDER BY r.run_number

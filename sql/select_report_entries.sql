SELECT e.entry_id, e.entity, e.period, e.posting_date, e.transaction_type, e.currency, e.run_id, e.reverses_entry_id,
       e.description,
       CAST(ROUND(e.total_debit * 100) AS BIGINT) AS total_debit_cents,
       CAST(ROUND(e.total_credit * 100) AS BIGINT) AS total_credit_cents,
       e.dagster_run_id, e.created_at
FROM journal_entries AS e
WHERE e.entity = :entity
  AND (e.period = :period
       OR e.run_id IN (SELECT r.run_id FROM allocation_runs AS r WHERE r.entity = :entity AND r.period BETWEEN :first_period AND :period))
ORDER BY e.entry_id

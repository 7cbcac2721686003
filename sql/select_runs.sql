SELECT run_id, entity, period, run_type, rule_id, origin, source_document, status, currency,
       CAST(ROUND(total_debit * 100) AS BIGINT) AS total_debit_cents,
       journal_entry_id, reversal_entry_id, created_at
FROM allocation_runs
WHERE (CAST(:entity AS VARCHAR) IS NULL OR entity = CAST(:entity AS VARCHAR))
  AND (CAST(:status AS VARCHAR) IS NULL OR status = CAST(:status AS VARCHAR))
  AND (CAST(:run_type AS VARCHAR) IS NULL OR run_type = CAST(:run_type AS VARCHAR))
  AND (CAST(:period AS VARCHAR) IS NULL OR period = CAST(:period AS VARCHAR))
ORDER BY run_number

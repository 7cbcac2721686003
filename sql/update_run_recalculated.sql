UPDATE allocation_runs
SET fingerprint = :fingerprint, pool_amount = :pool_amount, total_debit = :total_debit,
    total_credit = :total_credit, notes = :notes, method = :method, currency = :currency,
    dagster_run_id = :dagster_run_id, updated_at = :now
WHERE run_id = :run_id AND status = 'calculated'

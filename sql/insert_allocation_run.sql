INSERT INTO allocation_runs (
    run_id, run_number, entity, period, run_type, rule_id, method, origin, source_document, status,
    currency, pool_amount, total_debit, total_credit, fingerprint, notes, journal_entry_id,
    reversal_entry_id, dagster_run_id, created_at, updated_at
) VALUES (
    :run_id, :run_number, :entity, :period, :run_type, :rule_id, :method, :origin, :source_document, :status,
    :currency, :pool_amount, :total_debit, :total_credit, :fingerprint, :notes, NULL,
    NULL, :dagster_run_id, :now, :now
)

INSERT INTO journal_entries (
    entry_id, entity, period, posting_date, transaction_type, currency, run_id, reverses_entry_id,
    description, total_debit, total_credit, dagster_run_id, created_at
) VALUES (
    :entry_id, :entity, :period, :posting_date, :transaction_type, :currency, :run_id, :reverses_entry_id,
    :description, :total_debit, :total_credit, :dagster_run_id, :now
)

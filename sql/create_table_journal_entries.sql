CREATE TABLE IF NOT EXISTS journal_entries (
    entry_id VARCHAR PRIMARY KEY,
    entity VARCHAR NOT NULL,
    period VARCHAR NOT NULL,
    posting_date DATE NOT NULL,
    transaction_type VARCHAR NOT NULL,
    currency VARCHAR NOT NULL,
    run_id VARCHAR NOT NULL,
    reverses_entry_id VARCHAR,
    description VARCHAR,
    total_debit NUMERIC(18, 2) NOT NULL,
    total_credit NUMERIC(18, 2) NOT NULL,
    dagster_run_id VARCHAR,
    created_at TIMESTAMP NOT NULL
)

CREATE TABLE IF NOT EXISTS allocation_run_history (
    run_id VARCHAR NOT NULL,
    seq INTEGER NOT NULL,
    from_status VARCHAR,
    to_status VARCHAR NOT NULL,
    changed_at TIMESTAMP NOT NULL,
    changed_by VARCHAR NOT NULL,
    reason VARCHAR,
    reversed BOOLEAN NOT NULL,
    PRIMARY KEY (run_id, seq)
)

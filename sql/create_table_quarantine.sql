CREATE TABLE IF NOT EXISTS quarantine (
    extract VARCHAR NOT NULL,
    partition_key VARCHAR NOT NULL,
    source_file VARCHAR NOT NULL,
    row_number BIGINT NOT NULL,
    column_name VARCHAR,
    bad_value VARCHAR,
    reason VARCHAR NOT NULL,
    dagster_run_id VARCHAR,
    quarantined_at TIMESTAMP NOT NULL
)

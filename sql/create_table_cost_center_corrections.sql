CREATE TABLE IF NOT EXISTS cost_center_corrections (
    suggestion_id VARCHAR NOT NULL,
    extract VARCHAR NOT NULL,
    period VARCHAR NOT NULL,
    source_file VARCHAR NOT NULL,
    row_number BIGINT NOT NULL,
    outcome VARCHAR NOT NULL,
    dagster_run_id VARCHAR NOT NULL,
    applied_at TIMESTAMP NOT NULL
)

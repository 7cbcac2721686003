CREATE TABLE IF NOT EXISTS multilevel_origins (
    period VARCHAR NOT NULL,
    entity VARCHAR NOT NULL,
    run_id VARCHAR,
    cost_center VARCHAR NOT NULL,
    origin VARCHAR NOT NULL,
    amount NUMERIC(18, 2) NOT NULL
)

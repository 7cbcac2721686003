CREATE TABLE IF NOT EXISTS anomaly_flags (
    period VARCHAR NOT NULL,
    kind VARCHAR NOT NULL,
    severity VARCHAR NOT NULL,
    blocking BOOLEAN NOT NULL,
    rule_id VARCHAR NOT NULL,
    entity VARCHAR NOT NULL,
    currency VARCHAR NOT NULL,
    cost_object VARCHAR,
    amount NUMERIC(18, 2) NOT NULL,
    value DOUBLE PRECISION,
    threshold DOUBLE PRECISION,
    message VARCHAR NOT NULL
)

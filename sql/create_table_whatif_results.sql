CREATE TABLE IF NOT EXISTS whatif_results (
    scenario VARCHAR NOT NULL,
    period VARCHAR NOT NULL,
    entity VARCHAR NOT NULL,
    currency VARCHAR NOT NULL,
    rule_id VARCHAR NOT NULL,
    cost_center VARCHAR NOT NULL,
    product VARCHAR,
    region VARCHAR,
    baseline_amount NUMERIC(18, 2) NOT NULL,
    scenario_amount NUMERIC(18, 2) NOT NULL,
    difference NUMERIC(18, 2) NOT NULL
)

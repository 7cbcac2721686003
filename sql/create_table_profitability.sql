CREATE TABLE IF NOT EXISTS profitability (
    period VARCHAR NOT NULL,
    entity VARCHAR NOT NULL,
    currency VARCHAR NOT NULL,
    cost_center VARCHAR NOT NULL,
    revenue NUMERIC(18, 2) NOT NULL,
    direct_cost NUMERIC(18, 2) NOT NULL,
    allocated_cost NUMERIC(18, 2) NOT NULL,
    margin_before NUMERIC(18, 2) NOT NULL,
    margin NUMERIC(18, 2) NOT NULL,
    margin_percent DOUBLE PRECISION NOT NULL,
    largest_rule VARCHAR,
    largest_rule_amount NUMERIC(18, 2) NOT NULL,
    turned_unprofitable BOOLEAN NOT NULL
)

CREATE TABLE IF NOT EXISTS gl_balances (
    period VARCHAR NOT NULL,
    entity VARCHAR NOT NULL,
    account VARCHAR NOT NULL,
    cost_center VARCHAR NOT NULL,
    product VARCHAR,
    region VARCHAR,
    currency VARCHAR NOT NULL,
    debit NUMERIC(20, 2) NOT NULL,
    credit NUMERIC(20, 2) NOT NULL,
    balance NUMERIC(20, 2) NOT NULL,
    lines BIGINT NOT NULL
)

CREATE TABLE IF NOT EXISTS allocation_lines (
    run_id VARCHAR NOT NULL,
    line_no INTEGER NOT NULL,
    role VARCHAR NOT NULL,
    account VARCHAR NOT NULL,
    cost_center VARCHAR NOT NULL,
    product VARCHAR,
    region VARCHAR,
    debit NUMERIC(18, 2) NOT NULL,
    credit NUMERIC(18, 2) NOT NULL,
    driver VARCHAR,
    driver_value DOUBLE PRECISION,
    share DOUBLE PRECISION,
    explanation VARCHAR,
    PRIMARY KEY (run_id, line_no)
)

CREATE TABLE IF NOT EXISTS journal_lines (
    entry_id VARCHAR NOT NULL,
    line_no INTEGER NOT NULL,
    account VARCHAR NOT NULL,
    cost_center VARCHAR NOT NULL,
    product VARCHAR,
    region VARCHAR,
    debit NUMERIC(18, 2) NOT NULL,
    credit NUMERIC(18, 2) NOT NULL,
    description VARCHAR,
    PRIMARY KEY (entry_id, line_no)
)

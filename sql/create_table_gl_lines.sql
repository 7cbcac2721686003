CREATE TABLE IF NOT EXISTS gl_lines (
    period VARCHAR NOT NULL,
    entity VARCHAR NOT NULL,
    document_id VARCHAR NOT NULL,
    document_type VARCHAR NOT NULL,
    line INTEGER NOT NULL,
    posting_date DATE NOT NULL,
    account VARCHAR NOT NULL,
    cost_center VARCHAR NOT NULL,
    product VARCHAR,
    region VARCHAR,
    debit NUMERIC(18, 2) NOT NULL,
    credit NUMERIC(18, 2) NOT NULL,
    currency VARCHAR NOT NULL,
    description VARCHAR,
    source_file VARCHAR NOT NULL,
    row_number BIGINT NOT NULL
)

CREATE TABLE IF NOT EXISTS ap_invoices (
    period VARCHAR NOT NULL,
    entity VARCHAR NOT NULL,
    document_id VARCHAR NOT NULL,
    line INTEGER NOT NULL,
    vendor VARCHAR NOT NULL,
    invoice_date DATE NOT NULL,
    account VARCHAR NOT NULL,
    cost_center VARCHAR,
    amount NUMERIC(18, 2) NOT NULL,
    currency VARCHAR NOT NULL,
    description VARCHAR,
    source_file VARCHAR NOT NULL,
    row_number BIGINT NOT NULL
)

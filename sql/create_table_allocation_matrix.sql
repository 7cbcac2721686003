CREATE TABLE IF NOT EXISTS allocation_matrix (
    period VARCHAR NOT NULL,
    entity VARCHAR NOT NULL,
    source VARCHAR NOT NULL,
    target VARCHAR NOT NULL,
    percent DOUBLE PRECISION NOT NULL,
    source_file VARCHAR NOT NULL,
    row_number BIGINT NOT NULL
)

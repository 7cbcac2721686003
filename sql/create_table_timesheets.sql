CREATE TABLE IF NOT EXISTS timesheets (
    period VARCHAR NOT NULL,
    employee VARCHAR NOT NULL,
    work_date DATE NOT NULL,
    cost_center VARCHAR NOT NULL,
    activity VARCHAR NOT NULL,
    project VARCHAR,
    hours DOUBLE PRECISION NOT NULL,
    source_file VARCHAR NOT NULL,
    row_number BIGINT NOT NULL
)

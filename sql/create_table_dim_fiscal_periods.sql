CREATE TABLE IF NOT EXISTS dim_fiscal_periods (
    entity VARCHAR NOT NULL,
    period VARCHAR NOT NULL,
    start_date DATE NOT NULL,
    end_date DATE NOT NULL,
    status VARCHAR NOT NULL,
    PRIMARY KEY (entity, period)
)

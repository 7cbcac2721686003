CREATE TABLE IF NOT EXISTS driver_values (
    period VARCHAR NOT NULL,
    driver VARCHAR NOT NULL,
    dimension VARCHAR NOT NULL,
    cost_object VARCHAR NOT NULL,
    value DOUBLE PRECISION NOT NULL
)

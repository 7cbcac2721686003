CREATE TABLE IF NOT EXISTS driver_confidence (
    period VARCHAR NOT NULL,
    pool_id VARCHAR NOT NULL,
    label VARCHAR NOT NULL,
    p_value DOUBLE PRECISION NOT NULL,
    permutations INTEGER NOT NULL,
    seed BIGINT NOT NULL,
    oos_r2 DOUBLE PRECISION,
    oos_error_points DOUBLE PRECISION,
    null_r2 DOUBLE PRECISION,
    units_tested INTEGER NOT NULL,
    all_units_r2 DOUBLE PRECISION,
    all_units_error_points DOUBLE PRECISION,
    kept_r2 DOUBLE PRECISION,
    units_left_out VARCHAR,
    proposed BOOLEAN NOT NULL,
    sentence VARCHAR NOT NULL
)

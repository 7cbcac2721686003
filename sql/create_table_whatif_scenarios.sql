CREATE TABLE IF NOT EXISTS whatif_scenarios (
    scenario VARCHAR NOT NULL,
    period VARCHAR NOT NULL,
    description VARCHAR,
    spec VARCHAR NOT NULL,
    changes VARCHAR NOT NULL,
    baseline_total NUMERIC(18, 2) NOT NULL,
    scenario_total NUMERIC(18, 2) NOT NULL,
    objects_changed INTEGER NOT NULL,
    created_at TIMESTAMP NOT NULL,
    dagster_run_id VARCHAR
)

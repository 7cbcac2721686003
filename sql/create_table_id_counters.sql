CREATE TABLE IF NOT EXISTS id_counters (
    name VARCHAR PRIMARY KEY,
    last_value BIGINT NOT NULL
)

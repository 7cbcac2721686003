CREATE TABLE IF NOT EXISTS narratives (
    period VARCHAR NOT NULL,
    scope VARCHAR NOT NULL,
    rule_id VARCHAR,
    entity VARCHAR,
    narrative VARCHAR NOT NULL
)

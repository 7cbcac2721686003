CREATE TABLE IF NOT EXISTS dim_cost_centers (
    cost_center VARCHAR PRIMARY KEY,
    name VARCHAR NOT NULL,
    entity VARCHAR NOT NULL,
    kind VARCHAR NOT NULL,
    function VARCHAR,
    parent VARCHAR,
    active BOOLEAN NOT NULL
)

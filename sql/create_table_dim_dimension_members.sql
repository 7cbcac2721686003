CREATE TABLE IF NOT EXISTS dim_dimension_members (
    dimension VARCHAR NOT NULL,
    member VARCHAR NOT NULL,
    name VARCHAR NOT NULL,
    active BOOLEAN NOT NULL,
    PRIMARY KEY (dimension, member)
)

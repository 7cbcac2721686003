CREATE TABLE IF NOT EXISTS users (
    user_name VARCHAR PRIMARY KEY,
    role VARCHAR NOT NULL,
    password_hash VARCHAR,
    active BOOLEAN NOT NULL,
    failed_logins INTEGER NOT NULL,
    throttled_until TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    created_by VARCHAR NOT NULL,
    updated_at TIMESTAMP NOT NULL
)

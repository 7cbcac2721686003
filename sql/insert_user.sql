INSERT INTO users (user_name, role, password_hash, active, failed_logins, throttled_until, created_at, created_by, updated_at)
VALUES (:user_name, :role, :password_hash, TRUE, 0, NULL, :now, :created_by, :now)

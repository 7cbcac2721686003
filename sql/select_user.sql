SELECT user_name, role, password_hash, active, failed_logins, throttled_until, created_at, created_by, updated_at
FROM users
WHERE user_name = :user_name

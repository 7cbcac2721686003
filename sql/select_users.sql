SELECT user_name, role, active, failed_logins, throttled_until, created_at, created_by, updated_at
FROM users
ORDER BY user_name

UPDATE users SET password_hash = :password_hash, failed_logins = 0, throttled_until = NULL, updated_at = :now WHERE user_name = :user_name

UPDATE users SET failed_logins = 0, throttled_until = NULL WHERE user_name = :user_name

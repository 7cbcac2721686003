UPDATE users
SET failed_logins = failed_logins + 1,
    throttled_until = CASE WHEN failed_logins + 1 >= :limit THEN :throttled_until ELSE throttled_until END
WHERE user_name = :user_name

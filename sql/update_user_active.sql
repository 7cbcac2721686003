UPDATE users SET active = :active, updated_at = :now WHERE user_name = :user_name

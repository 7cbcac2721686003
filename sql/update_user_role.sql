UPDATE users SET role = :role, updated_at = :now WHERE user_name = :user_name

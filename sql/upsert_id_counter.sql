INSERT INTO id_counters (name, last_value) VALUES (:name, :count)
ON CONFLICT (name) DO UPDATE SET last_value = id_counters.last_value + excluded.last_value
RETURNING last_value

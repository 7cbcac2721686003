UPDATE allocation_runs
SET status = :to_status, updated_at = :now
WHERE run_id = :run_id AND status = :from_status

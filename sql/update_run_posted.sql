UPDATE allocation_runs
SET status = 'posted', updated_at = :now
WHERE run_id = :run_id AND status = 'approved'

UPDATE allocation_runs
SET status = 'posted', journal_entry_id = :entry_id, updated_at = :now
WHERE run_id = :run_id AND status = 'approved'

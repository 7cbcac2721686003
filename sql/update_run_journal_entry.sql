UPDATE allocation_runs
SET journal_entry_id = :entry_id
WHERE run_id = :run_id

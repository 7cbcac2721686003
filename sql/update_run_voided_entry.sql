UPDATE allocation_runs
SET reversal_entry_id = :reversal_entry_id
WHERE run_id = :run_id

UPDATE allocation_runs
SET status = 'voided', reversal_entry_id = :reversal_entry_id, updated_at = :now
WHERE run_id = :run_id AND status = 'posted'

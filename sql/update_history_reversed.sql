UPDATE allocation_run_history
SET reversed = TRUE
WHERE run_id = :run_id AND to_status = 'posted'

SELECT seq, from_status, to_status, changed_at, changed_by, reason, reversed
FROM allocation_run_history
WHERE run_id = :run_id
ORDER BY seq

SELECT changed_by
FROM allocation_run_history
WHERE run_id = :run_id
ORDER BY seq
LIMIT 1

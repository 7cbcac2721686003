SELECT run_id
FROM allocation_runs
ORDER BY run_number

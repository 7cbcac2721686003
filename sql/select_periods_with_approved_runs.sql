SELECT period, COUNT(*) AS runs, MIN(run_id) AS first_run, MAX(run_id) AS last_run
FROM allocation_runs
WHERE status = 'approved'
GROUP BY period
ORDER BY period

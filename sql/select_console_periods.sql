SELECT entity, period, COUNT(*) AS runs
FROM allocation_runs
GROUP BY entity, period
ORDER BY period DESC, entity

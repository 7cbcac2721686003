SELECT h.run_id, h.seq, h.from_status, h.to_status, h.changed_at, h.changed_by, h.reason, h.reversed
FROM allocation_run_history AS h
JOIN allocation_runs AS r ON r.run_id = h.run_id
WHERE r.entity = :entity
  AND (r.period BETWEEN :first_period AND :period
       OR r.run_id IN (SELECT j.run_id FROM journal_entries AS j WHERE j.entity = :entity AND j.period = :period))
ORDER BY r.run_number, h.seq

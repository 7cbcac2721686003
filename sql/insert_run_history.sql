INSERT INTO allocation_run_history (run_id, seq, from_status, to_status, changed_at, changed_by, reason, reversed)
VALUES (
    CAST(:run_id AS VARCHAR),
    (SELECT COALESCE(MAX(h.seq), 0) + 1 FROM allocation_run_history AS h WHERE h.run_id = CAST(:run_id AS VARCHAR)),
    :from_status, :to_status, :now, :changed_by, :reason, FALSE
)

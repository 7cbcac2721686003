INSERT INTO allocation_run_history (run_id, seq, from_status, to_status, changed_at, changed_by, reason, reversed)
VALUES (
    :run_id,
    (SELECT COALESCE(MAX(seq), 0) + 1 FROM allocation_run_history WHERE run_id = :run_id),
    :from_status, :to_status, :now, :changed_by, :reason, FALSE
)

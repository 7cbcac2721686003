DELETE FROM allocation_lines WHERE run_id = :run_id

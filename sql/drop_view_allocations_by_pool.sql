DROP VIEW IF EXISTS v_allocations_by_pool

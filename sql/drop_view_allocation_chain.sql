DROP VIEW IF EXISTS v_allocation_chain

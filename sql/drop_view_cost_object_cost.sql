DROP VIEW IF EXISTS v_cost_object_cost

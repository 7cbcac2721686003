SELECT cost_center, name, entity, kind, function, parent, active
FROM dim_cost_centers
ORDER BY cost_center

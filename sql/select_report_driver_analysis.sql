SELECT pool_id, driver, correlation, r2, error_points, weight_percent, note, consumption, status, periods_used,
       first_period, last_period, cost_objects, weighted_r2, weighted_error_points, recommended_method,
       recommended_parameters, recommendation, rationale
FROM driver_analysis
WHERE period = :period
ORDER BY pool_id, driver

SELECT pool_id, label, p_value, permutations, seed, oos_r2, oos_error_points, null_r2, units_tested, all_units_r2,
       all_units_error_points, kept_r2, units_left_out, proposed, sentence
FROM driver_confidence
WHERE period = :period
ORDER BY pool_id

SELECT period, driver, dimension, cost_object, value
FROM driver_values
WHERE period >= :first_period AND period <= :last_period
ORDER BY period, driver, dimension, cost_object

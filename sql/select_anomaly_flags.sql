SELECT period, kind, severity, blocking, rule_id, entity, currency, cost_object,
       CAST(ROUND(amount * 100) AS BIGINT) AS amount_cents, value, threshold, message
FROM anomaly_flags
WHERE period = :period
ORDER BY entity, rule_id, kind, cost_object

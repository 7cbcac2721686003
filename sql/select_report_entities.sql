SELECT e.entity, e.name, e.currency, f.status AS period_status, f.start_date, f.end_date
FROM dim_entities AS e
LEFT JOIN dim_fiscal_periods AS f ON f.entity = e.entity AND f.period = :period
ORDER BY e.entity

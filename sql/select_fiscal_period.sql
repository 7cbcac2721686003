SELECT status, end_date
FROM dim_fiscal_periods
WHERE entity = :entity AND period = :period

SELECT made_after, kind, series, entity, currency, period, mean, lower, upper, level, model, history_periods, backtest_periods,
       backtest_mape, backtest_mae, backtest_inside, sentence
FROM forecasts
WHERE made_after = :made_after
ORDER BY kind, entity, series, period

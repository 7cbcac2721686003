CREATE TABLE IF NOT EXISTS forecasts (
    made_after VARCHAR NOT NULL,
    kind VARCHAR NOT NULL,
    series VARCHAR NOT NULL,
    entity VARCHAR NOT NULL,
    currency VARCHAR NOT NULL,
    period VARCHAR NOT NULL,
    mean DOUBLE PRECISION NOT NULL,
    lower DOUBLE PRECISION NOT NULL,
    upper DOUBLE PRECISION NOT NULL,
    level DOUBLE PRECISION NOT NULL,
    model VARCHAR NOT NULL,
    history_periods INTEGER NOT NULL,
    backtest_periods INTEGER NOT NULL,
    backtest_mape DOUBLE PRECISION,
    backtest_mae DOUBLE PRECISION,
    backtest_inside INTEGER NOT NULL,
    sentence VARCHAR NOT NULL
)

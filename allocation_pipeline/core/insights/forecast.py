"""Forecasts of the next months: each pool (what a rule allocates), each driver (its total over the
cost objects) and each cost object's allocated cost, with prediction intervals and a backtest.

Each series gets a statsmodels ETS model (additive errors; a damped additive trend from 8 months
of history; additive yearly seasonality from 24 months; a simple level below 8 months; nothing
below 4 months, said plainly). The backtest refits the same model without the last months (up to
3, never below the model's minimum) and reports how far its forecasts were from what happened:
the mean absolute percentage error, the mean absolute error, and how many actual months fell inside
the interval. ETS prediction intervals here are analytical, so the same history always gives the
same forecast.

`forecast_month_inputs` turns the last actual month's inputs into a forecast month's, so a what-if
scenario can be applied to it: each entity's balances scaled by its pools' forecast, each driver's
values by its total's forecast (shares between cost objects as in the last month).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from allocation_pipeline.core.insights.config import shift_period

MIN_HISTORY = 4
TREND_HISTORY = 8
SEASONAL_HISTORY = 24
BACKTEST_PERIODS = 3
LEVEL = 0.8
FORECAST_COLUMNS = [
    "made_after", "kind", "series", "entity", "currency", "period", "mean", "lower", "upper", "level", "model", "history_periods",
    "backtest_periods", "backtest_mape", "backtest_mae", "backtest_inside", "sentence",
]
KINDS = ("pool", "driver", "cost_object")


@dataclass(frozen=True)
class SeriesForecast:
    """One series' forecast. `kind`: pool (a rule's allocated total, in cents), driver (its total
    over the cost objects, in its unit) or cost_object (a cost center's allocated cost over every
    rule, in cents); `series` names it (rule id, driver, cost center). `forecast` has period, mean,
    lower, upper (the `level` interval); empty with too little history, which `sentence` says.
    `backtest_mape` is None when an actual month was zero."""

    kind: str
    series: str
    entity: str
    currency: str
    history: pd.Series
    model: str
    forecast: pd.DataFrame
    level: float
    backtest_periods: int
    backtest_mape: float | None
    backtest_mae: float | None
    backtest_inside: int
    sentence: str

    def frame(self, made_after: str) -> pd.DataFrame:
        """The forecast rows for the warehouse table `forecasts`."""
        rows = [
            {
                "made_after": made_after, "kind": self.kind, "series": self.series, "entity": self.entity, "currency": self.currency,
                "period": p, "mean": m, "lower": lo, "upper": hi, "level": self.level, "model": self.model,
                "history_periods": len(self.history), "backtest_periods": self.backtest_periods, "backtest_mape": self.backtest_mape,
                "backtest_mae": self.backtest_mae, "backtest_inside": self.backtest_inside, "sentence": self.sentence,
            }
            for p, m, lo, hi in self.forecast[["period", "mean", "lower", "upper"]].itertuples(index=False)
        ]
        return pd.DataFrame(rows, columns=FORECAST_COLUMNS)


def _fit(values: np.ndarray, first: str):
    """The ETS model the history's length allows, fitted; (results, description) or (None, reason)."""
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    n = len(values)
    index = pd.period_range(first, periods=n, freq="M")
    series = pd.Series(values.astype(np.float64), index=index)
    if n >= SEASONAL_HISTORY:
        spec, name = {"trend": "add", "damped_trend": True, "seasonal": "add", "seasonal_periods": 12}, "ETS(A,Ad,A) with yearly seasonality"
    elif n >= TREND_HISTORY:
        spec, name = {"trend": "add", "damped_trend": True}, "ETS(A,Ad,N) damped trend"
    else:
        spec, name = {}, "ETS(A,N,N) level only"
    from threadpoolctl import threadpool_limits

    if np.ptp(values) == 0:
        return None, "constant"
    # One BLAS thread: the model is tiny, and threads only fight over a busy machine's cores.
    with warnings.catch_warnings(), threadpool_limits(limits=1):
        warnings.simplefilter("ignore")  # convergence chatter of the optimiser; the backtest says how good the fit is
        results = ETSModel(series, error="add", **spec).fit(disp=False)
    return results, name


def _predict(results, n: int, periods: int, level: float) -> pd.DataFrame:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        frame = results.get_prediction(start=n, end=n + periods - 1).summary_frame(alpha=1 - level)
    return pd.DataFrame({"mean": frame["mean"].to_numpy(), "lower": frame["pi_lower"].to_numpy(), "upper": frame["pi_upper"].to_numpy()})


def forecast_series(
    history: pd.Series, periods: int, *, kind: str, series: str, entity: str = "", currency: str = "", level: float = LEVEL,
    backtest: int = BACKTEST_PERIODS, unit: str = "",
) -> SeriesForecast:
    """Forecast `periods` months after the last of `history` (values indexed by YYYY-MM, gaps
    counted as 0) with its interval and backtest."""
    history = history.sort_index()
    first, last = str(history.index[0]), str(history.index[-1])
    months = [shift_period(first, k) for k in range(_months_between(first, last) + 1)]
    values = history.reindex(months).fillna(0.0).to_numpy(np.float64)
    history = pd.Series(values, index=months)
    future = [shift_period(last, k) for k in range(1, periods + 1)]
    what = f"{kind.replace('_', ' ')} {series}" + (f" ({entity})" if entity else "")
    if len(values) < MIN_HISTORY:
        empty = pd.DataFrame(columns=["period", "mean", "lower", "upper"])
        return SeriesForecast(
            kind, series, entity, currency, history, "none", empty, level, 0, None, None, 0,
            f"No forecast for {what}: {len(values)} month(s) of history, at least {MIN_HISTORY} are needed.",
        )
    results, model = _fit(values, first)
    if results is None:
        flat = pd.DataFrame({"period": future, "mean": values[-1], "lower": values[-1], "upper": values[-1]})
        return SeriesForecast(
            kind, series, entity, currency, history, "constant", flat, level, 0, 0.0, 0.0, 0,
            f"{what[0].upper() + what[1:]} has been {_fmt(values[-1], unit)} in each of the last {len(values)} months; forecast unchanged.",
        )
    forecast = _predict(results, len(values), periods, level).assign(period=future)[["period", "mean", "lower", "upper"]]
    held = min(backtest, len(values) - MIN_HISTORY)
    mape = mae = None
    inside = 0
    if held > 0:
        fitted, _ = _fit(values[:-held], first)
        actual = values[-held:]
        if fitted is None:
            predicted = pd.DataFrame({"mean": np.repeat(values[-held - 1], held), "lower": values[-held - 1], "upper": values[-held - 1]})
        else:
            predicted = _predict(fitted, len(values) - held, held, level)
        errors = np.abs(actual - predicted["mean"].to_numpy())
        mae = float(errors.mean())
        mape = float(np.mean(errors / np.abs(actual)) * 100) if np.all(actual != 0) else None
        inside = int(np.sum((actual >= predicted["lower"].to_numpy()) & (actual <= predicted["upper"].to_numpy())))
    head = forecast.iloc[0]
    sentence = (
        f"{what[0].upper() + what[1:]}: {_fmt(head['mean'], unit)} expected in {head['period']} ({level:.0%} interval {_fmt(head['lower'], unit)} "
        f"to {_fmt(head['upper'], unit)}), from {len(values)} months of history by {model}"
    )
    if held > 0:
        error = f"{mape:.1f}% (mean absolute error {_fmt(mae, unit)})" if mape is not None else f"a mean absolute error of {_fmt(mae, unit)}"
        sentence += f"; fitted without the last {held} month(s) it was off by {error}, with {inside} of {held} inside its interval."
    else:
        sentence += "; too short a history to backtest."
    return SeriesForecast(kind, series, entity, currency, history, model, forecast, level, held, mape, mae, inside, sentence)


def _months_between(first: str, last: str) -> int:
    return (int(last[:4]) * 12 + int(last[5:7])) - (int(first[:4]) * 12 + int(first[5:7]))


def _fmt(value: float, unit: str) -> str:
    if unit == "cents":
        return f"{value / 100:,.2f}"
    return f"{value:,.2f}" + (f" {unit}" if unit else "")


def forecast_all(allocated: pd.DataFrame, driver_values: pd.DataFrame, periods: int, level: float = LEVEL) -> list[SeriesForecast]:
    """Forecasts of every pool, driver and cost object. `allocated`: period, rule_id, entity,
    currency, cost_center, amount_cents (what each target received, per rule); `driver_values`:
    period, driver, dimension, cost_object, value. Series in a stable order."""
    out: list[SeriesForecast] = []
    if not allocated.empty:
        pools = allocated.groupby(["rule_id", "entity", "currency", "period"], sort=True)["amount_cents"].sum()
        for (rule_id, entity, currency), series in pools.groupby(level=[0, 1, 2], sort=True):
            out.append(forecast_series(series.droplevel([0, 1, 2]).astype(float), periods, kind="pool", series=str(rule_id),
                                       entity=str(entity), currency=str(currency), level=level, unit="cents"))
    if not driver_values.empty:
        totals = driver_values.groupby(["driver", "dimension", "period"], sort=True)["value"].sum()
        for (driver, dimension), series in totals.groupby(level=[0, 1], sort=True):
            name = str(driver) if dimension == "cost_center" else f"{driver} by {dimension}"
            out.append(forecast_series(series.droplevel([0, 1]), periods, kind="driver", series=name, level=level))
    if not allocated.empty:
        objects = allocated.groupby(["cost_center", "entity", "currency", "period"], sort=True)["amount_cents"].sum()
        for (cost_center, entity, currency), series in objects.groupby(level=[0, 1, 2], sort=True):
            out.append(forecast_series(series.droplevel([0, 1, 2]).astype(float), periods, kind="cost_object", series=str(cost_center),
                                       entity=str(entity), currency=str(currency), level=level, unit="cents"))
    return out


def forecasts_frame(forecasts: list[SeriesForecast], made_after: str) -> pd.DataFrame:
    frames = [f.frame(made_after) for f in forecasts if not f.forecast.empty]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=FORECAST_COLUMNS)


def forecast_month_inputs(last, forecasts: list[SeriesForecast], month: str):
    """The what-if inputs of a forecast `month` from the last actual month's (`whatif.PeriodInputs`):
    each entity's balances scaled by its pools' forecast total over their last actual total, each
    driver's values by its forecast total over its last actual total (cost objects keep their
    shares). Returns (inputs, the assumptions in words)."""
    assumptions = []
    balances = last.balances.copy()
    pools = [f for f in forecasts if f.kind == "pool" and not f.forecast.empty]
    for entity in sorted(set(balances["entity"])):
        mine = [f for f in pools if f.entity == entity and month in set(f.forecast["period"])]
        actual = sum(float(f.history.iloc[-1]) for f in mine)
        expected = sum(float(f.forecast.set_index("period").loc[month, "mean"]) for f in mine)
        factor = expected / actual if actual > 0 and expected > 0 else 1.0
        rows = balances["entity"] == entity
        balances.loc[rows, "balance_cents"] = np.round(balances.loc[rows, "balance_cents"].to_numpy(np.float64) * factor).astype(np.int64)
        assumptions.append(f"{entity} balances x {factor:.4f} (its pools' forecast for {month} over {last.period})")
    drivers = last.driver_values.copy()
    drivers["period"] = month
    for f in forecasts:
        if f.kind != "driver" or f.forecast.empty or month not in set(f.forecast["period"]):
            continue
        name, _, dimension = f.series.partition(" by ")
        rows = (drivers["driver"] == name) & (drivers["dimension"] == (dimension or "cost_center"))
        actual = float(f.history.iloc[-1])
        expected = float(f.forecast.set_index("period").loc[month, "mean"])
        factor = expected / actual if actual > 0 and expected > 0 else 1.0
        drivers.loc[rows, "value"] = drivers.loc[rows, "value"] * factor
        assumptions.append(f"{f.series} x {factor:.4f}")
    return replace(last, period=month, balances=balances, driver_values=drivers), tuple(assumptions)

"""How much revenue next quarter: monthly series from the clean transactions, candidate models
with prediction intervals, a rolling-origin backtest that picks one, and the forecast it makes.

A model maps a history (monthly net revenue, oldest first) to `h` point forecasts and, where it
has its own, interval bounds at `level`; a few read more of the same history (`Views`): the weekly
series, or each customer's orders (`customer_base`, which forecasts the customers rather than the
sum). Models without their own intervals (the baselines, the lag regression and weekly_ets) get
them from backtest errors: quantiles of log(actual / forecast), pooled over horizon steps scaled
by sqrt(step), from the other origins (in the backtest) or all of them (for the forecast). A
model's own intervals are rescaled the same way (`interval_scale` in its scores): widened or
narrowed on the log scale until `level` of the other origins' actual values fall inside, since
they assume the model is right about its own errors. Seasonal models need two full seasons in
every backtest window; otherwise they are skipped with a note, as is a model that fails (its row
says why).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.linear_model import Ridge

from leadsift.core.io import InputError

SEASON = 12  # months
TOTAL, GUESTS = "total", "guests"


@dataclass(frozen=True)
class Forecast:
    mean: np.ndarray
    lower: np.ndarray | None = None  # None: intervals come from backtest errors
    upper: np.ndarray | None = None


@dataclass(frozen=True)
class Settings:
    horizon: int
    origins: int
    level: float
    metric: str  # mase | mae | smape
    mean_window: int
    ridge_alpha: float
    models: tuple[str, ...]
    fit_window: int | None = None  # the latest months a model fits on (None: all)
    value_bands: int = 2  # customer_base: bands of average order value, a model each
    band_customers: int = 200  # customer_base: fewest customers a band is fitted on
    newcomer_window: int = 3  # customer_base: months whose mean first orders continue
    n_jobs: int = 1  # series forecast at once, each in its own process

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> Settings:
        """The `forecast` knobs (params.yaml) and the `forecast_setup` (config.yaml)."""
        knobs, setup = params["forecast"], params["forecast_setup"]
        return cls(
            horizon=knobs["horizon"],
            origins=setup["origins"],
            level=setup["level"],
            metric=knobs["metric"],
            mean_window=setup["mean_window"],
            ridge_alpha=setup["ridge_alpha"],
            models=tuple(setup["models"]),
            fit_window=setup["fit_window"],
            value_bands=setup["value_bands"],
            band_customers=setup["band_customers"],
            newcomer_window=setup["newcomer_window"],
            n_jobs=setup["n_jobs"],
        )


@dataclass(frozen=True)
class Views:
    """A series' other views, for the models that read more than its months."""

    weeks: pd.Series | None = None  # the same revenue by week
    orders: pd.DataFrame | None = None  # its customers' invoices (`customer_orders`)


class ModelFitError(Exception):
    """A model that could not fit this history (the reason goes in its backtest row)."""


# ---- the series


def revenue_table(
    lines: pd.DataFrame, segments: pd.Series, freq: str = "M"
) -> tuple[pd.DataFrame, list[str]]:
    """Net revenue per calendar period (`M`: months, `W`: weeks, Monday to Sunday): `total`, each
    segment's (by `segments`, customer id -> segment name) and the guests'. Periods without a
    line are zeros. A last period the data do not reach the end of is partial and dropped, with a
    note."""
    notes = []
    period = lines["timestamp"].dt.to_period(freq)
    group = lines["customer_id"].map(segments).astype(object)
    group = group.where(lines["customer_id"].notna(), GUESTS).fillna("unsegmented")
    table = (
        lines.assign(period=period, group=group)
        .pivot_table(index="period", columns="group", values="amount", aggfunc="sum", sort=True)
        .reindex(pd.period_range(period.min(), period.max(), freq=freq))
        .fillna(0.0)
    )
    table.insert(0, TOTAL, table.sum(axis=1))
    last_day = lines["timestamp"].max().normalize()
    if last_day < table.index[-1].end_time.normalize():
        notes.append(f"{table.index[-1]} is partial (the data end on {last_day.date()}): left out")
        table = table.iloc[:-1]
    table.index.name = "month" if freq == "M" else "week"
    return table, notes


def monthly_revenue(lines: pd.DataFrame, segments: pd.Series) -> tuple[pd.DataFrame, list[str]]:
    """`revenue_table` by calendar month: the series every model is scored on."""
    return revenue_table(lines, segments, "M")


def weekly_revenue(lines: pd.DataFrame, segments: pd.Series) -> pd.DataFrame:
    """`revenue_table` by week, for the models that read weeks (a partial last week is dropped
    silently: the monthly series' note covers the end of the data)."""
    return revenue_table(lines, segments, "W")[0]


def customer_orders(lines: pd.DataFrame, segments: pd.Series) -> pd.DataFrame:
    """One row per customer invoice: customer_id, its segment (`group`), timestamp, net amount
    and whether it is an order (a cancellation is not). Guests' invoices have no customer."""
    known = lines[lines["customer_id"].notna()]
    invoices = known.groupby("invoice", sort=False).agg(
        customer_id=("customer_id", "first"),
        timestamp=("timestamp", "min"),
        amount=("amount", "sum"),
        cancellation=("cancellation", "first"),
    )
    return pd.DataFrame(
        {
            "customer_id": invoices["customer_id"].to_numpy(),
            "group": invoices["customer_id"].map(segments).fillna("unsegmented").to_numpy(),
            "timestamp": invoices["timestamp"].to_numpy(),
            "amount": invoices["amount"].to_numpy(),
            "is_order": ~invoices["cancellation"].to_numpy(dtype=bool),
        }
    )


def weeks_until(weeks: pd.Series, month: pd.Period) -> pd.Series:
    """The weeks that end by the end of `month`: what a forecast from that month may read."""
    return weeks[weeks.index.end_time <= month.end_time]


def require_history(series: pd.Series, min_periods: int, source: str) -> None:
    """A forecast needs `min_periods` months; fewer is an input problem (exit 2)."""
    if len(series) < min_periods:
        found = f"{series.index[0]} to {series.index[-1]}" if len(series) else "none"
        raise InputError(
            f"{source}: {len(series)} full month(s) of revenue ({found}); the forecast needs at "
            f"least forecast_setup.min_periods = {min_periods}. Give a longer export or lower "
            "forecast_setup.min_periods in config.yaml"
        )


# ---- the models (history in, h steps out)


def _log(y: np.ndarray, period: str = "monthly") -> np.ndarray:
    if (y < 0).any():
        raise ModelFitError(f"negative {period} revenue: no log scale")
    return np.log1p(y)


def naive(y: np.ndarray, h: int, **_: Any) -> Forecast:
    return Forecast(np.repeat(y[-1], h))


def seasonal_naive(y: np.ndarray, h: int, **_: Any) -> Forecast:
    return Forecast(y[-SEASON:][np.arange(h) % SEASON])


def window_mean(y: np.ndarray, h: int, *, settings: Settings, **_: Any) -> Forecast:
    return Forecast(np.repeat(y[-settings.mean_window :].mean(), h))


def _statsmodels(fit: Callable[[], Any], h: int, level: float, n: int) -> Forecast:
    """Fit on the log scale; a convergence warning counts as a failure (the row says so)."""
    from statsmodels.tools.sm_exceptions import ConvergenceWarning  # noqa: PLC0415

    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        warnings.simplefilter("ignore", UserWarning)
        try:
            result = fit()
        except ConvergenceWarning as err:
            raise ModelFitError(f"did not converge ({str(err).splitlines()[0]})") from err
        except (ValueError, np.linalg.LinAlgError) as err:
            raise ModelFitError(str(err).splitlines()[0]) from err
    frame = result.get_prediction(start=n, end=n + h - 1).summary_frame(alpha=1 - level)
    lower, upper = (
        ("pi_lower", "pi_upper") if "pi_lower" in frame else ("mean_ci_lower", "mean_ci_upper")
    )
    back = np.expm1
    return Forecast(
        back(frame["mean"].to_numpy()), back(frame[lower].to_numpy()), back(frame[upper].to_numpy())
    )


def ets(
    y: np.ndarray,
    h: int,
    *,
    level: float,
    seasonal: bool = False,
    period: str = "monthly",
    **_: Any,
) -> Forecast:
    """Exponential smoothing with a damped additive trend on log revenue (seasonal: additive)."""
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel  # noqa: PLC0415

    z = pd.Series(_log(y, period))  # its prediction frame needs an index
    model = ETSModel(
        z,
        error="add",
        trend="add",
        damped_trend=True,
        seasonal="add" if seasonal else None,
        seasonal_periods=SEASON if seasonal else None,
        initialization_method="heuristic" if seasonal else "estimated",
    )
    return _statsmodels(lambda: model.fit(disp=False), h, level, len(z))


def arima(y: np.ndarray, h: int, *, level: float, seasonal: bool = False, **_: Any) -> Forecast:
    """ARIMA(1,1,0) with drift on log revenue; seasonal: the airline model (0,1,1)(0,1,1)12."""
    from statsmodels.tsa.arima.model import ARIMA  # noqa: PLC0415

    z = _log(y)
    if seasonal:
        model = ARIMA(z, order=(0, 1, 1), seasonal_order=(0, 1, 1, SEASON))
    else:
        model = ARIMA(z, order=(1, 1, 0), trend="t")
    return _statsmodels(model.fit, h, level, len(z))


def lag_regression(
    y: np.ndarray, h: int, *, settings: Settings, first_month: int, seasonal: bool = False, **_: Any
) -> Forecast:
    """Ridge regression of the log growth over the next `step` months (one model per step) on
    recent growth, the target month's calendar position and, with two seasons, last year's growth
    over the same months."""
    z = _log(y)
    start = SEASON if seasonal else 3

    def features(t: int, step: int) -> list[float]:
        angle = 2 * math.pi * ((first_month + t + step) % SEASON) / SEASON
        row = [z[t] - z[t - 1], z[t] - z[t - 3], math.sin(angle), math.cos(angle)]
        return row + ([z[t + step - SEASON] - z[t - SEASON]] if seasonal else [])

    mean = []
    for step in range(1, h + 1):
        rows = range(start, len(z) - step)
        if len(rows) < 3:
            raise ModelFitError(f"too few months for step {step}")
        fit = Ridge(alpha=settings.ridge_alpha).fit(
            np.array([features(t, step) for t in rows]), [z[t + step] - z[t] for t in rows]
        )
        mean.append(z[-1] + fit.predict(np.array([features(len(z) - 1, step)]))[0])
    return Forecast(np.expm1(np.array(mean)))


def weekly_ets(
    y: np.ndarray, h: int, *, weeks: pd.Series, ahead: pd.PeriodIndex, level: float, **_: Any
) -> Forecast:
    """`ets` on weekly revenue (the weeks that end by the origin), each forecast week spread
    evenly over its days and the days summed into the `ahead` months. Its weekly intervals do
    not add up to monthly ones, so its intervals come from the backtest errors."""
    days = pd.period_range(ahead[0].start_time, ahead[-1].end_time, freq="D")
    step = np.asarray((days.asfreq("W") - weeks.index[-1]).map(lambda offset: offset.n))
    weekly = ets(weeks.to_numpy(dtype=float), int(step.max()), level=level, period="weekly")
    daily = weekly.mean[step - 1] / 7
    month = np.asarray((days.asfreq("M") - ahead[0]).map(lambda offset: offset.n))
    return Forecast(np.bincount(month, weights=daily, minlength=h))


def customer_base(
    y: np.ndarray,
    h: int,
    *,
    orders: pd.DataFrame,
    ahead: pd.PeriodIndex,
    level: float,
    settings: Settings,
    **_: Any,
) -> Forecast:
    """Each customer's expected orders and value per order, plus the newcomers
    (`leadsift.customers.customer_base`), from the orders before the origin; its intervals are
    normal on the log scale with the compound Poisson variance of the orders' amounts."""
    from scipy.stats import norm  # noqa: PLC0415

    from leadsift.customers.customer_base import forecast_revenue  # noqa: PLC0415

    try:
        mean, variance = forecast_revenue(
            orders,
            ahead[0].start_time,
            h,
            series_revenue_last_year=float(y[-SEASON:].sum()),
            bands=settings.value_bands,
            band_customers=settings.band_customers,
            newcomer_window=settings.newcomer_window,
        )
    except ValueError as err:
        raise ModelFitError(str(err)) from err
    if not (np.isfinite(mean).all() and (mean > 0).all()):
        raise ModelFitError("the customers' model gave no positive forecast")
    spread = norm.ppf((1 + level) / 2) * np.sqrt(variance) / mean
    return Forecast(mean, mean * np.exp(-spread), mean * np.exp(spread))


@dataclass(frozen=True)
class Candidate:
    fit: Callable[..., Forecast]
    seasonal: bool = False
    min_history: int = 3  # months
    weekly: bool = False  # reads the weekly series too
    per_customer: bool = False  # reads the customers' orders


CANDIDATES: dict[str, Candidate] = {
    "naive": Candidate(naive, min_history=1),
    "seasonal_naive": Candidate(seasonal_naive, seasonal=True),
    "mean": Candidate(window_mean, min_history=1),
    "ets": Candidate(ets, min_history=6),
    "ets_seasonal": Candidate(ets, seasonal=True),
    "arima": Candidate(arima, min_history=6),
    "sarima": Candidate(arima, seasonal=True),
    "lag_regression": Candidate(lag_regression, min_history=8),
    "lag_regression_seasonal": Candidate(lag_regression, seasonal=True),
    "weekly_ets": Candidate(weekly_ets, min_history=6, weekly=True),
    "customer_base": Candidate(customer_base, min_history=SEASON, per_customer=True),
}


def predict(
    name: str,
    y: np.ndarray,
    months: pd.PeriodIndex,
    settings: Settings,
    views: Views = Views(),
) -> Forecast:
    """`name`'s forecast from the history `y` of `months` (and, for a weekly model, the weeks
    that end by the last of them; for a per-customer one, the orders before its end), fitted on
    the latest `settings.fit_window` months."""
    candidate = CANDIDATES[name]
    if settings.fit_window and len(y) > settings.fit_window:
        y, months = y[-settings.fit_window :], months[-settings.fit_window :]
    kwargs: dict[str, Any] = {"seasonal": True} if candidate.seasonal else {}
    if why := _missing_view(candidate, views):
        raise ModelFitError(why)
    if candidate.weekly:
        cut = weeks_until(views.weeks, months[-1])
        kwargs["weeks"] = cut[cut.index.start_time >= months[0].start_time]
    if candidate.per_customer:
        # the model cuts at the origin itself; it sees no order before the fit window
        kwargs["orders"] = views.orders[views.orders["timestamp"] >= months[0].start_time]
    return candidate.fit(
        y,
        settings.horizon,
        level=settings.level,
        settings=settings,
        first_month=months[0].month - 1,
        ahead=pd.period_range(months[-1] + 1, periods=settings.horizon, freq="M"),
        **kwargs,
    )


# ---- the backtest


def errors(actual: np.ndarray, forecast: np.ndarray, scale: np.ndarray) -> dict[str, float]:
    """MAE, MAPE, sMAPE (in %) and MASE (|error| / the in-sample one-step naive MAE)."""
    gap = np.abs(actual - forecast)
    with np.errstate(divide="ignore", invalid="ignore"):
        ape = np.where(actual != 0, gap / np.abs(actual), np.nan)
        sape = np.where(
            np.abs(actual) + np.abs(forecast) > 0, 2 * gap / (np.abs(actual) + np.abs(forecast)), 0
        )
    return {
        "mae": float(gap.mean()),
        "mape": float(100 * np.nanmean(ape)) if np.isfinite(ape).any() else None,
        "smape": float(100 * sape.mean()),
        "mase": float((gap / scale).mean()),
    }


def _errors_of(rows: pd.DataFrame) -> dict[str, float]:
    """`errors` of backtest rows (actual, forecast, scale)."""
    return errors(rows["actual"].to_numpy(), rows["forecast"].to_numpy(), rows["scale"].to_numpy())


def _pooled_quantiles(ratios: pd.DataFrame, level: float) -> tuple[float, float]:
    """Quantiles of log(actual / forecast) / sqrt(step) (NaN without enough errors)."""
    scaled = (ratios["log_ratio"] / np.sqrt(ratios["step"])).dropna()
    if len(scaled) < 2:
        return math.nan, math.nan
    return tuple(np.quantile(scaled, [(1 - level) / 2, (1 + level) / 2]))


def _with_log_ratios(rows: pd.DataFrame) -> pd.DataFrame:
    """Backtest rows with log(actual / forecast), missing where either side is 0 or negative."""
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.log(rows["actual"] / rows["forecast"])
    return rows.assign(log_ratio=ratio.where(np.isfinite(ratio)))


def _error_intervals(rows: pd.DataFrame, level: float) -> pd.DataFrame:
    """Fill the intervals of a model without its own, origin by origin, from the other origins."""
    rows = _with_log_ratios(rows)
    for origin in rows["origin"].unique():
        here = rows["origin"] == origin
        low, high = _pooled_quantiles(rows[~here], level)
        spread = np.sqrt(rows.loc[here, "step"])
        rows.loc[here, "lower"] = rows.loc[here, "forecast"] * np.exp(low * spread)
        rows.loc[here, "upper"] = rows.loc[here, "forecast"] * np.exp(high * spread)
    return rows.drop(columns="log_ratio")


def _interval_scale(rows: pd.DataFrame, level: float) -> float:
    """How much a model's own intervals must be widened (> 1) or narrowed (< 1) for `level` of
    the backtest's actual values to fall inside: the `level` quantile of each error over the
    interval's half-width on its side, on the log scale (NaN without enough errors)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        error = np.log(rows["actual"] / rows["forecast"])
        half = np.where(
            error > 0,
            np.log(rows["upper"] / rows["forecast"]),
            np.log(rows["forecast"] / rows["lower"]),
        )
        ratio = (np.abs(error) / half).to_numpy()
    ratio = ratio[np.isfinite(ratio)]
    return float(np.quantile(ratio, level)) if len(ratio) >= 2 else math.nan


def _rescaled_bound(forecast: Any, bound: Any, scale: float) -> Any:
    """A bound moved on the log scale to `scale` times its distance from the forecast."""
    return forecast * (bound / forecast) ** scale


def _rescaled(frame: pd.DataFrame, scale: float) -> pd.DataFrame:
    return frame.assign(
        lower=_rescaled_bound(frame["forecast"], frame["lower"], scale),
        upper=_rescaled_bound(frame["forecast"], frame["upper"], scale),
    )


def _calibrated_intervals(rows: pd.DataFrame, level: float) -> pd.DataFrame:
    """A model's own intervals, origin by origin, rescaled so that `level` of the other origins'
    actual values would have fallen inside: a model's intervals assume its own fit is right,
    the backtest shows how wrong it is (ETS fitted through a launch ramp, for one, claims
    errors many times those it makes)."""
    out = rows.copy()
    for origin in rows["origin"].unique():
        here = rows["origin"] == origin
        out.loc[here] = _rescaled(rows[here], _interval_scale(rows[~here], level))
    return out


@dataclass
class Backtest:
    rows: pd.DataFrame  # model, origin, step, month, actual, forecast, lower, upper, scale
    scores: dict[str, dict[str, Any]]  # model -> errors, per-step MASE, coverage, status, and
    # for a model with its own intervals, the scale they need (`interval_scale`)
    notes: list[str] = field(default_factory=list)


def _missing_view(candidate: Candidate, views: Views) -> str | None:
    if candidate.weekly and views.weeks is None:
        return "needs the weekly series"
    if candidate.per_customer and (views.orders is None or not len(views.orders)):
        return "needs its customers' orders (a series of customers, with their ids)"
    return None


def _unfit(candidate: Candidate, shortest: int, views: Views) -> str | None:
    """Why a candidate cannot run on this history (`shortest`: months at the first origin)."""
    needed = max(candidate.min_history, 2 * SEASON if candidate.seasonal else 0)
    if shortest < needed:
        return f"needs {needed} months to fit on at the first origin, has {shortest}"
    return _missing_view(candidate, views)


def backtest(series: pd.Series, settings: Settings, views: Views = Views()) -> Backtest:
    """Each model forecasts `horizon` months from each of the last `origins` origins (training on
    the months before it only, and a weekly model on the weeks that end by then) and is scored
    against what happened."""
    y, months = series.to_numpy(dtype=float), series.index
    n, h = len(y), settings.horizon
    windows = [n - h - i for i in reversed(range(settings.origins))]
    windows = [w for w in windows if w >= 2]
    if not windows:
        raise InputError(
            f"{len(y)} months leave no backtest origin for a {h}-month horizon; "
            "lower forecast.horizon or forecast.origins"
        )
    rows, scores, notes, scales = [], {}, [], {}
    shortest = min(windows[0], settings.fit_window or windows[0])  # months the first fit sees
    for name in settings.models:
        if why := _unfit(CANDIDATES[name], shortest, views):
            scores[name] = {"status": "skipped", "why": why}
            notes.append(f"{name} skipped: {why}")
            continue
        try:
            found = []
            for w in windows:
                forecast = predict(name, y[:w], months[:w], settings, views)
                scale = np.mean(np.abs(np.diff(y[:w]))) or 1.0
                for step in range(1, h + 1):
                    found.append(
                        {
                            "model": name,
                            "origin": str(months[w - 1]),
                            "step": step,
                            "month": str(months[w + step - 1]),
                            "actual": y[w + step - 1],
                            "forecast": forecast.mean[step - 1],
                            "lower": np.nan if forecast.lower is None else forecast.lower[step - 1],
                            "upper": np.nan if forecast.upper is None else forecast.upper[step - 1],
                            "scale": scale,
                            "own_interval": forecast.lower is not None,
                        }
                    )
        except ModelFitError as err:
            scores[name] = {"status": "failed", "why": str(err)}
            notes.append(f"{name} failed: {err}")
            continue
        frame = pd.DataFrame(found)
        if frame["own_interval"].all():
            scales[name] = _interval_scale(frame, settings.level)
            frame = _calibrated_intervals(frame, settings.level)
        else:
            frame = _error_intervals(frame, settings.level)
        rows.append(frame.drop(columns="own_interval"))
    table = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()
    for name, frame in table.groupby("model", sort=False) if len(table) else []:
        scores[name] = _score(frame) | {"status": "ok"}
        if name in scales:
            scores[name]["interval_scale"] = scales[name]
    naive_mase = (scores.get("naive") or {}).get("mase")
    for name, entry in scores.items():
        if entry["status"] == "ok" and naive_mase is not None and name != "naive":
            entry["beats_naive"] = entry["mase"] < naive_mase
    return Backtest(table, {name: scores[name] for name in settings.models}, notes)


def _score(frame: pd.DataFrame) -> dict[str, Any]:
    """A model's backtest errors, over all its months and by horizon step, and its coverage."""
    inside = (frame["actual"] >= frame["lower"]) & (frame["actual"] <= frame["upper"])
    return _errors_of(frame) | {
        "by_step": {int(step): _errors_of(g) for step, g in frame.groupby("step")},
        "coverage": float(inside[frame["lower"].notna()].mean())
        if frame["lower"].notna().any()
        else None,
    }


def truth_errors(rows: pd.DataFrame, expected: pd.Series) -> dict[str, float] | None:
    """The errors of forecasting each backtest month with the generator's expected revenue given
    what it knew at that origin (`expected`, by origin and month): what no forecaster who knew
    the generative model could foresee.
    None when the truth does not cover those origins and months."""
    months = rows.drop_duplicates(["origin", "step"])
    truth = expected_from(expected, months["origin"], months["month"])
    if truth.isna().any():
        return None
    return errors(months["actual"].to_numpy(), truth.to_numpy(), months["scale"].to_numpy())


def expected_from(
    expected: pd.Series, origins: str | Sequence[str], months: Sequence[str]
) -> pd.Series:
    """The expected revenue of each of `months` from its origin (`origins`: one per month, or
    one for all), by origin and month; missing where the truth has none."""
    origins = [origins] * len(months) if isinstance(origins, str) else list(origins)
    return expected.reindex(pd.MultiIndex.from_arrays([origins, list(months)]))


def ranking(scores: Mapping[str, Mapping[str, Any]], metric: str) -> list[str]:
    """The models that ran, best `metric` first."""
    ranked = sorted(
        (entry[metric], name)
        for name, entry in scores.items()
        if entry["status"] == "ok" and entry.get(metric) is not None
    )
    if not ranked:
        raise InputError("no forecasting model could be fitted; see the notes in forecast.json")
    return [name for _, name in ranked]


def forecast_ahead(
    series: pd.Series,
    name: str,
    result: Backtest,
    settings: Settings,
    views: Views = Views(),
) -> pd.DataFrame:
    """The chosen model, refitted on the whole history, for the next `horizon` months."""
    y = series.to_numpy(dtype=float)
    forecast = predict(name, y, series.index, settings, views)
    months = pd.period_range(series.index[-1] + 1, periods=settings.horizon, freq="M")
    lower, upper = forecast.lower, forecast.upper
    if lower is None:
        rows = result.rows[result.rows["model"] == name]
        low, high = _pooled_quantiles(_with_log_ratios(rows), settings.level)
        spread = np.sqrt(np.arange(1, settings.horizon + 1))
        lower, upper = forecast.mean * np.exp(low * spread), forecast.mean * np.exp(high * spread)
    else:
        scale = result.scores[name]["interval_scale"]
        lower = _rescaled_bound(forecast.mean, lower, scale)
        upper = _rescaled_bound(forecast.mean, upper, scale)
    return pd.DataFrame(
        {
            "month": months.astype(str),
            "forecast": forecast.mean,
            "lower": lower,
            "upper": upper,
            "model": name,
        }
    )


def total_interval(ahead: pd.DataFrame) -> dict[str, Any]:
    """The next months' total, with the sums of the monthly bounds as its interval: errors of
    neighbouring months move together (a level error shifts them all), so the sum is the honest
    width, not the narrower one independent months would give."""
    return {
        "months": list(ahead["month"]),
        "total": float(ahead["forecast"].sum()),
        "lower": float(ahead["lower"].sum()),
        "upper": float(ahead["upper"].sum()),
    }


def forecast_series(
    series: pd.Series,
    settings: Settings,
    expected: pd.DataFrame | None,
    views: Views = Views(),
) -> tuple[Backtest, pd.DataFrame, dict[str, Any]]:
    """Backtest every model on one monthly series (and its other `views`, for the models that
    read them), choose by `settings.metric`, forecast ahead."""
    result = backtest(series, settings, views)
    # the best model, refitted on the whole history; one that cannot fit it (a negative week in
    # the last months, say) gives way to the next best, with a note
    for chosen in ranking(result.scores, settings.metric):
        try:
            ahead = forecast_ahead(series, chosen, result, settings, views)
            break
        except ModelFitError as err:
            result.notes.append(
                f"{chosen} cannot fit the whole history ({err}): the next best in the backtest "
                "forecasts instead"
            )
    else:
        raise InputError(f"no model fits the whole history of {series.name}: {result.notes[-1]}")
    summary = {
        "model": chosen,
        "metric": settings.metric,
        "models": result.scores,
        "next": total_interval(ahead),
        "truth": None
        if expected is None
        else truth_summary(result.rows, expected, str(series.index[-1]), ahead["month"]),
        "notes": result.notes,
    }
    return result, ahead, summary


def truth_by_origin(
    expected: pd.Series, backtest: pd.DataFrame, ahead: pd.DataFrame, last: str
) -> list[pd.Series]:
    """The expected revenue of each backtest origin's months and of the `ahead` months from the
    `last` month of history, one series by month each: the truth's lines in the figure."""
    runs = [(origin, run["month"]) for origin, run in backtest.groupby("origin")]
    runs.append((last, ahead["month"]))
    return [expected_from(expected, o, months).droplevel(0).dropna() for o, months in runs]


def truth_summary(
    rows: pd.DataFrame, expected: pd.DataFrame, last: str, ahead: Sequence[str]
) -> dict[str, Any] | None:
    """The truth's backtest errors and its total of the `ahead` months from the `last` month of
    history (`expected`'s first column, by origin and month), with the errors of each further
    column under its name without `expected_` (e.g. `from_history`: an expectation that knows less
    than the generator does). None when the truth does not cover the backtest."""
    first, *others = expected.columns
    summary = truth_errors(rows, expected[first])
    if summary is None:
        return None
    if (total := expected_from(expected[first], last, ahead)).notna().all():
        summary["next_total"] = float(total.sum())
    for column in others:
        summary[column.removeprefix("expected_")] = truth_errors(rows, expected[column])
    return summary


def forecast_all(
    table: pd.DataFrame,
    settings: Settings,
    expected: pd.DataFrame | None,
    series_names: Sequence[str] | None = None,
    *,
    weekly: pd.DataFrame | None = None,
    orders: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """Every series of `table` (total first; `weekly`: the same series by week; `orders`: the
    customers' invoices, `customer_orders`): backtest rows, forecasts and summaries, each tagged
    with its series. The truth (expected revenue by origin and month) applies to the total
    only."""
    from joblib import Parallel, delayed  # noqa: PLC0415

    names = list(series_names or table.columns)
    views = [
        Views(
            weeks=None if weekly is None else weekly[name],
            orders=None
            if orders is None
            else (orders if name == TOTAL else orders[orders["group"] == name]),
        )
        for name in names
    ]
    results = Parallel(n_jobs=min(settings.n_jobs, len(names)))(
        delayed(forecast_series)(table[name], settings, expected if name == TOTAL else None, view)
        for name, view in zip(names, views, strict=True)
    )
    backtests, forecasts, summaries = [], [], {}
    for name, (result, ahead, summary) in zip(names, results, strict=True):
        backtests.append(result.rows.assign(series=name))
        forecasts.append(ahead.assign(series=name))
        summaries[name] = summary
    first = ["series"]
    backtest_rows = pd.concat(backtests, ignore_index=True)
    forecast_rows = pd.concat(forecasts, ignore_index=True)
    return (
        backtest_rows[first + [c for c in backtest_rows.columns if c not in first]],
        forecast_rows[first + [c for c in forecast_rows.columns if c not in first]],
        summaries,
    )


def describe(summary: Mapping[str, Any]) -> tuple[str, str]:
    """The forecast in two phrases: the next months' total with its interval and model, and its
    backtest error against the naive baseline's and the truth's."""
    scores, ahead = summary["models"], summary["next"]
    forecast = (
        f"{ahead['months'][0]} to {ahead['months'][-1]}: {ahead['total']:,.0f} "
        f"({ahead['lower']:,.0f} to {ahead['upper']:,.0f}) by {summary['model']}"
    )
    errors = f"backtest MASE {scores[summary['model']]['mase']:.3f}"
    if "mase" in scores.get("naive", {}):
        errors += f", naive {scores['naive']['mase']:.3f}"
    if truth := summary["truth"]:
        errors += f", the expected revenue (truth) {truth['mase']:.3f}"
        errors += "".join(
            f" ({other['mase']:.3f} {name.replace('_', ' ')})"
            for name, other in truth_variants(truth).items()
        )
    return forecast, errors


def truth_variants(truth: Mapping[str, Any]) -> dict[str, dict[str, float]]:
    """The errors of the truth's further columns (`truth_summary`), by name."""
    return {name: value for name, value in truth.items() if isinstance(value, dict)}

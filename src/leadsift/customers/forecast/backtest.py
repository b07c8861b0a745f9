"""Which model forecasts, and its forecast: every candidate forecasts each series from each of a
rolling backtest's origins, the lowest error picks one, and it forecasts the months ahead.

Models without their own intervals (the baselines, the lag regression and weekly_ets) get them
from backtest errors: quantiles of log(actual / forecast), pooled over horizon steps scaled by
sqrt(step), from the other origins (in the backtest) or all of them (for the forecast). A model's
own intervals are rescaled the same way (`interval_scale` in its scores): widened or narrowed on
the log scale until `level` of the other origins' actual values fall inside, since they assume
the model is right about its own errors. An interval always holds its forecast (even when every
backtest error pointed one way), and a model with fewer than `min_interval_errors` backtest errors
gets none: its forecast says so rather than print one. Seasonal models need two full seasons in
every backtest window; otherwise they are skipped with a note, as is a model that fails (its row
says why).

A model that needs more months than the earlier origins have (the customer model, the seasonal
ones) is backtested from the later origins it can fit at, and competes: the models are then ranked
on their errors at the origins they all share (`shared` in their scores), so the comparison is
fair, and a note says so. A model that cannot fit even at the latest origin is skipped, its note
naming what would let it run.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from leadsift.core.io import InputError
from leadsift.customers.forecast.calendar import NO_CAMPAIGNS
from leadsift.customers.forecast.errors import errors
from leadsift.customers.forecast.models import (
    CANDIDATES,
    History,
    Model,
    ModelFitError,
    Settings,
)
from leadsift.customers.forecast.series import TOTAL, Revenue, Views
from leadsift.customers.forecast.truth import truth_summary, truth_variants


def _errors_of(rows: pd.DataFrame) -> dict[str, float]:
    """`errors` of backtest rows (actual, forecast, scale)."""
    return errors(rows["actual"].to_numpy(), rows["forecast"].to_numpy(), rows["scale"].to_numpy())


def _pooled_quantiles(ratios: pd.DataFrame, level: float, minimum: int) -> tuple[float, float]:
    """Quantiles of log(actual / forecast) / sqrt(step), the lower one at most 0 and the upper
    at least 0 so that the interval holds the forecast (NaN with fewer than `minimum` errors)."""
    scaled = (ratios["log_ratio"] / np.sqrt(ratios["step"])).dropna()
    if len(scaled) < minimum:
        return math.nan, math.nan
    low, high = np.quantile(scaled, [(1 - level) / 2, (1 + level) / 2])
    return min(float(low), 0.0), max(float(high), 0.0)


def _with_log_ratios(rows: pd.DataFrame) -> pd.DataFrame:
    """Backtest rows with log(actual / forecast), missing where either side is 0 or negative."""
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.log(rows["actual"] / rows["forecast"])
    return rows.assign(log_ratio=ratio.where(np.isfinite(ratio)))


def error_count(rows: pd.DataFrame) -> int:
    """The backtest errors an interval of these rows is built from: months where the actual
    value and the forecast are both positive."""
    return int(_with_log_ratios(rows)["log_ratio"].notna().sum())


def _error_intervals(rows: pd.DataFrame, level: float, minimum: int) -> pd.DataFrame:
    """Fill the intervals of a model without its own, origin by origin, from the other origins."""
    rows = _with_log_ratios(rows)
    for origin in rows["origin"].unique():
        here = rows["origin"] == origin
        low, high = _pooled_quantiles(rows[~here], level, minimum)
        spread = np.sqrt(rows.loc[here, "step"])
        rows.loc[here, "lower"] = rows.loc[here, "forecast"] * np.exp(low * spread)
        rows.loc[here, "upper"] = rows.loc[here, "forecast"] * np.exp(high * spread)
    return rows.drop(columns="log_ratio")


def _interval_scale(rows: pd.DataFrame, level: float, minimum: int) -> float:
    """How much a model's own intervals must be widened (> 1) or narrowed (< 1) for `level` of
    the backtest's actual values to fall inside: the `level` quantile of each error over the
    interval's half-width on its side, on the log scale (NaN with fewer than `minimum`)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        error = np.log(rows["actual"] / rows["forecast"])
        half = np.where(
            error > 0,
            np.log(rows["upper"] / rows["forecast"]),
            np.log(rows["forecast"] / rows["lower"]),
        )
        ratio = (np.abs(error) / half).to_numpy()
    ratio = ratio[np.isfinite(ratio)]
    return float(np.quantile(ratio, level)) if len(ratio) >= minimum else math.nan


def _rescaled_bound(forecast: Any, bound: Any, scale: float) -> Any:
    """A bound moved on the log scale to `scale` times its distance from the forecast."""
    return forecast * (bound / forecast) ** scale


def _rescaled(frame: pd.DataFrame, scale: float) -> pd.DataFrame:
    return frame.assign(
        lower=_rescaled_bound(frame["forecast"], frame["lower"], scale),
        upper=_rescaled_bound(frame["forecast"], frame["upper"], scale),
    )


def _calibrated_intervals(rows: pd.DataFrame, level: float, minimum: int) -> pd.DataFrame:
    """A model's own intervals, origin by origin, rescaled so that `level` of the other origins'
    actual values would have fallen inside: a model's intervals assume its own fit is right,
    the backtest shows how wrong it is (ETS fitted through a launch ramp, for one, claims
    errors many times those it makes)."""
    out = rows.copy()
    for origin in rows["origin"].unique():
        here = rows["origin"] == origin
        out.loc[here] = _rescaled(rows[here], _interval_scale(rows[~here], level, minimum))
    return out


@dataclass
class Backtest:
    rows: pd.DataFrame  # model, origin, step, month, actual, forecast, lower, upper, scale
    scores: dict[str, dict[str, Any]]  # model -> errors, per-step MASE, coverage, status, and
    # for a model with its own intervals, the scale they need (`interval_scale`)
    notes: list[str] = field(default_factory=list)


def backtest(series: pd.Series, settings: Settings, views: Views) -> Backtest:
    """Each model forecasts `horizon` months from each of the last `origins` origins (training on
    the months before it only, and a weekly model on the weeks that end by then) and is scored
    against what happened."""
    n, h = len(series), settings.horizon
    windows = [n - h - i for i in reversed(range(settings.origins))]
    windows = [w for w in windows if w >= 2]
    if not windows:
        raise InputError(
            f"{n} months leave no backtest origin for a {h}-month horizon; "
            "lower forecast.horizon or forecast_setup.origins"
        )
    rows, scores, notes, scales = [], {}, [], {}
    fitted_on = {w: min(w, settings.fit_window or w) for w in windows}  # months a fit sees
    for name in settings.models:
        model = CANDIDATES[name]
        usable = [w for w in windows if not model.unfit(fitted_on[w], views)]
        if not usable:
            why = model.unfit(fitted_on[windows[-1]], views)
            if fitted_on[windows[-1]] < model.months_needed:
                why += (
                    " at the latest origin (a longer history, or a shorter forecast.horizon than "
                    f"{h}, moves it later)"
                )
            scores[name] = {"status": "skipped", "why": why}
            notes.append(f"{name} skipped: {why}")
            continue
        if len(usable) < len(windows):
            notes.append(
                f"{name} backtested from the latest {len(usable)} of {len(windows)} origins: it "
                f"needs {model.months_needed} months to fit on, the earlier ones have fewer"
            )
        try:
            frame = _model_rows(name, model, series, usable, settings=settings, views=views)
        except ModelFitError as err:
            scores[name] = {"status": "failed", "why": str(err)}
            notes.append(f"{name} failed: {err}")
            continue
        if frame["own_interval"].all():
            scales[name] = _interval_scale(frame, settings.level, settings.min_interval_errors)
            frame = _calibrated_intervals(frame, settings.level, settings.min_interval_errors)
        else:
            frame = _error_intervals(frame, settings.level, settings.min_interval_errors)
        rows.append(frame.drop(columns="own_interval"))
    table = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()
    for name, frame in table.groupby("model", sort=False) if len(table) else []:
        scores[name] = _score(frame) | {"status": "ok"}
        if name in scales:
            scores[name]["interval_scale"] = scales[name]
    notes += _compare_on_shared_origins(table, scores)
    naive_mase = compared_errors(scores.get("naive") or {}).get("mase")
    for name, entry in scores.items():
        if entry["status"] == "ok" and naive_mase is not None and name != "naive":
            entry["beats_naive"] = compared_errors(entry)["mase"] < naive_mase
    return Backtest(table, {name: scores[name] for name in settings.models}, notes)


def _model_rows(
    name: str,
    model: Model,
    series: pd.Series,
    windows: list[int],
    *,
    settings: Settings,
    views: Views,
) -> pd.DataFrame:
    """A model's forecasts from the origins after each of `windows` months, against what
    happened (raises `ModelFitError` if it cannot fit at one of them)."""
    y, months = series.to_numpy(dtype=float), series.index
    found = []
    for w in windows:
        forecast = model(History.fit_on(y[:w], months[:w], settings, views))
        scale = np.mean(np.abs(np.diff(y[:w]))) or 1.0
        for step in range(1, settings.horizon + 1):
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
    return pd.DataFrame(found)


def _compare_on_shared_origins(table: pd.DataFrame, scores: dict[str, dict[str, Any]]) -> list[str]:
    """Where the models that ran were backtested from different origins, each one's errors at the
    origins they all share (`shared`), which rank them; a note if so."""
    ran = [name for name, entry in scores.items() if entry["status"] == "ok"]
    origins = {name: set(table.loc[table["model"] == name, "origin"]) for name in ran}
    if not ran or len({len(o) for o in origins.values()}) == 1:
        return []
    shared = set.intersection(*origins.values())
    for name in ran:
        rows = table[(table["model"] == name) & table["origin"].isin(shared)]
        scores[name]["shared"] = _errors_of(rows) | {"origins": len(shared)}
    return [
        f"the models are ranked on their errors at the {len(shared)} latest origin(s) they all "
        "were backtested from (`shared` in forecast.json); forecast_setup.origins = "
        f"{len(shared)} would backtest each at those only"
    ]


def compared_errors(entry: Mapping[str, Any]) -> Mapping[str, Any]:
    """The errors a model is ranked by, and reported by: at the shared origins, where the models'
    origins differ."""
    return entry.get("shared", entry)


def _score(frame: pd.DataFrame) -> dict[str, Any]:
    """A model's backtest errors, over all its months and by horizon step, and its coverage."""
    inside = (frame["actual"] >= frame["lower"]) & (frame["actual"] <= frame["upper"])
    return _errors_of(frame) | {
        "by_step": {int(step): _errors_of(g) for step, g in frame.groupby("step")},
        "coverage": float(inside[frame["lower"].notna()].mean())
        if frame["lower"].notna().any()
        else None,
    }


def ranking(scores: Mapping[str, Mapping[str, Any]], metric: str) -> list[str]:
    """The models that ran, best `metric` first."""
    ranked = sorted(
        (compared_errors(entry)[metric], name)
        for name, entry in scores.items()
        if entry["status"] == "ok" and compared_errors(entry).get(metric) is not None
    )
    if not ranked:
        raise InputError("no forecasting model could be fitted; see the notes in forecast.json")
    return [name for _, name in ranked]


def forecast_ahead(
    series: pd.Series, result: Backtest, settings: Settings, views: Views
) -> tuple[pd.DataFrame, list[str]]:
    """The backtest's best model, refitted on the whole history, for the next `horizon` months
    (month, forecast, lower, upper, model); and a note for each better one that cannot fit the
    whole history (a negative week in the last months, say) and gives way to the next best."""
    history = History.fit_on(series.to_numpy(dtype=float), series.index, settings, views)
    notes, minimum = [], settings.min_interval_errors
    for name in ranking(result.scores, settings.metric):
        try:
            forecast = CANDIDATES[name](history)
            break
        except ModelFitError as err:
            notes.append(
                f"{name} cannot fit the whole history ({err}): the next best in the backtest "
                "forecasts instead"
            )
    else:
        raise InputError(f"no model fits the whole history of {series.name}: {notes[-1]}")
    lower, upper = forecast.lower, forecast.upper
    rows = result.rows[result.rows["model"] == name]
    if lower is None:
        low, high = _pooled_quantiles(_with_log_ratios(rows), settings.level, minimum)
        spread = np.sqrt(np.arange(1, settings.horizon + 1))
        lower, upper = forecast.mean * np.exp(low * spread), forecast.mean * np.exp(high * spread)
    else:
        scale = result.scores[name]["interval_scale"]
        lower = _rescaled_bound(forecast.mean, lower, scale)
        upper = _rescaled_bound(forecast.mean, upper, scale)
    if (found := error_count(rows)) < minimum:
        origins = rows["origin"].nunique()
        more = (
            "more forecast_setup.origins give more"
            if origins == settings.origins
            else f"it fits at {origins} of the {settings.origins} origins: a longer history does"
        )
        notes.append(
            f"no interval: {name} has {found} backtest errors, fewer than the "
            f"forecast_setup.min_interval_errors = {minimum} an interval needs; {more}"
        )
    ahead = pd.DataFrame(
        {
            "month": history.ahead.astype(str),
            "forecast": forecast.mean,
            "lower": lower,
            "upper": upper,
            "model": name,
        }
    )
    return ahead, notes


def total_interval(ahead: pd.DataFrame) -> dict[str, Any]:
    """The next months' total, with the sums of the monthly bounds as its interval: errors of
    neighbouring months move together (a level error shifts them all), so the sum is the honest
    width, not the narrower one independent months would give. Without an interval (too few
    backtest errors), the bounds are None."""
    lower, upper = ahead["lower"].sum(skipna=False), ahead["upper"].sum(skipna=False)
    return {
        "months": list(ahead["month"]),
        "total": float(ahead["forecast"].sum()),
        "lower": None if np.isnan(lower) else float(lower),
        "upper": None if np.isnan(upper) else float(upper),
    }


def interval_text(ahead: Mapping[str, Any]) -> str:
    """A total's interval in words (`total_interval`)."""
    if ahead["lower"] is None:
        return "no interval: too few backtest errors"
    return f"{ahead['lower']:,.0f} to {ahead['upper']:,.0f}"


def forecast_all(
    revenue: Revenue, settings: Settings, expected: pd.DataFrame | None
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """Every series of a shop's `revenue` (total first): each model's backtest rows, the
    winner's forecast and a summary, each tagged with its series; the series are backtested,
    then forecast, `settings.n_jobs` at once. The truth (expected revenue by origin and month,
    `truth.generator_truth`) and the notes on the revenue itself belong to the total, as do the
    planned campaigns (`settings.campaigns`): which segments their customers will join is not
    known."""
    from joblib import Parallel, delayed  # noqa: PLC0415

    names = list(revenue.monthly.columns)
    series = [revenue.monthly[name] for name in names]
    views = [revenue.views(name) for name in names]
    own = [settings if n == TOTAL else replace(settings, campaigns=NO_CAMPAIGNS) for n in names]
    parallel = Parallel(n_jobs=min(settings.n_jobs, len(names)))
    results = parallel(
        delayed(backtest)(s, o, v) for s, o, v in zip(series, own, views, strict=True)
    )
    aheads = parallel(
        delayed(forecast_ahead)(s, result, o, v)
        for s, result, o, v in zip(series, results, own, views, strict=True)
    )
    backtests, forecasts, summaries = [], [], {}
    for name, column, result, (ahead, notes) in zip(names, series, results, aheads, strict=True):
        total = name == TOTAL
        backtests.append(result.rows.assign(series=name))
        forecasts.append(ahead.assign(series=name))
        summaries[name] = {
            "model": ahead["model"].iloc[0],
            "metric": settings.metric,
            "models": result.scores,
            "next": total_interval(ahead),
            "truth": truth_summary(result.rows, expected, str(column.index[-1]), ahead["month"])
            if total and expected is not None
            else None,
            "notes": [*(revenue.notes if total else ()), *result.notes, *notes],
        }
    first = ["series"]
    backtest_rows = pd.concat(backtests, ignore_index=True)
    forecast_rows = pd.concat(forecasts, ignore_index=True)
    return (
        backtest_rows[first + [c for c in backtest_rows.columns if c not in first]],
        forecast_rows[first + [c for c in forecast_rows.columns if c not in first]],
        summaries,
    )


def total_chosen(
    backtest_rows: pd.DataFrame, forecast_rows: pd.DataFrame, summaries: Mapping[str, Any]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The backtest rows of the total's chosen model and its forecast (`forecast_all`'s
    outputs): what the figure draws."""
    total = backtest_rows["series"] == TOTAL
    return (
        backtest_rows[total & (backtest_rows["model"] == summaries[TOTAL]["model"])],
        forecast_rows[forecast_rows["series"] == TOTAL],
    )


def describe(summary: Mapping[str, Any]) -> tuple[str, str]:
    """The forecast in two phrases: the next months' total with its interval and model, and its
    backtest error against the naive baseline's and the truth's."""
    scores, ahead = summary["models"], summary["next"]
    forecast = (
        f"{ahead['months'][0]} to {ahead['months'][-1]}: {ahead['total']:,.0f} "
        f"({interval_text(ahead)}) by {summary['model']}"
    )
    chosen = compared_errors(scores[summary["model"]])
    naive = compared_errors(scores.get("naive", {}))
    measured = f"backtest MASE {chosen['mase']:.3f}"
    if "mase" in naive:
        measured += f", naive {naive['mase']:.3f}"
    if "origins" in chosen:
        measured += f" (at the {chosen['origins']} origin(s) every model has)"
    if truth := summary["truth"]:
        measured += f", the expected revenue (truth) {truth['mase']:.3f}"
        measured += "".join(
            f" ({other['mase']:.3f} {name.replace('_', ' ')})"
            for name, other in truth_variants(truth).items()
        )
    return forecast, measured

"""The generator's expected revenue as a forecaster: whether it is the truth of the series at
hand, and how its forecasts from the backtest's origins compare with what happened. It knows the
generative model and the history up to each origin, so its errors are what no forecaster could
remove."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from leadsift.customers.forecast.errors import errors


def generator_truth(
    expected: pd.DataFrame, expected_path: Path, export_path: Path, months: pd.PeriodIndex
) -> pd.DataFrame | None:
    """The generator's expected revenue (`expected`, read from `expected_path`: origin, month
    and its columns) by origin and month, when it is the truth of the series of `months`, which
    come from the export at `export_path`; None when it is not.

    It is when the generator wrote both: the export sits next to the truth, as the generator's
    own does, and every month of the series is an origin of the truth (the generator's has one
    for each month of its history). A shop's own export lies elsewhere, and one put next to the
    truth in the generator's place is caught unless its months lie within the generator's.
    """
    if export_path.resolve().parent != expected_path.resolve().parent:
        return None
    if not set(months.astype(str)) <= set(expected["origin"]):
        return None
    return expected.set_index(["origin", "month"])


def expected_from(
    expected: pd.Series, origins: str | Sequence[str], months: Sequence[str]
) -> pd.Series:
    """The expected revenue of each of `months` from its origin (`origins`: one per month, or
    one for all), by origin and month; missing where the truth has none."""
    origins = [origins] * len(months) if isinstance(origins, str) else list(origins)
    return expected.reindex(pd.MultiIndex.from_arrays([origins, list(months)]))


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


def truth_variants(truth: Mapping[str, Any]) -> dict[str, dict[str, float]]:
    """The errors of the truth's further columns (`truth_summary`), by name."""
    return {name: value for name, value in truth.items() if isinstance(value, dict)}


def truth_by_origin(
    expected: pd.DataFrame | None, backtest: pd.DataFrame, ahead: pd.DataFrame
) -> list[pd.Series]:
    """The expected revenue (`expected`'s first column) of each backtest origin's months and of
    the `ahead` months from the month before them, one series by month each: the truth's lines
    in the figure; none without a truth."""
    if expected is None:
        return []
    first = expected.iloc[:, 0]
    runs = [(origin, run["month"]) for origin, run in backtest.groupby("origin")]
    runs.append((str(pd.Period(ahead["month"].iloc[0], "M") - 1), ahead["month"]))
    return [expected_from(first, o, months).droplevel(0).dropna() for o, months in runs]

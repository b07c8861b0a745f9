"""A first look at a pipeline's raw input, before any model: what each column holds, how it relates
to the target, and what looks wrong, as a plain dict that the Markdown page, the figures and the
pull-request data diff are drawn from.

The raw file is profiled as read, before the contract: a file that the prepare stage rejects is
profiled as far as it can be read, since the profile is where people look when something is wrong.
Columns play the parts the pipeline's config gives them (`ProfilePlan`); a column the config does
not name is profiled by its type, and a declared column the file lacks is a warning.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import Any

import numpy as np
import pandas as pd

from leadsift.core.config import SHARE, Rule, between, integer
from leadsift.core.contract import blank, duplicate_rows, parse_numbers
from leadsift.core.profile_findings import findings, warning_lines

QUANTILES = {"min": 0, "p01": 0.01, "p25": 0.25, "p50": 0.5, "p75": 0.75, "p99": 0.99, "max": 1}
MISSING_LEVEL = "(missing)"
OTHER_LEVELS = "(other levels)"


@dataclass(frozen=True)
class ProfilePlan:
    """Which column of an input plays which part, with the config key that says so."""

    name: str  # the input, e.g. "leads"; names the report files
    keys: Mapping[str, str]  # column -> config key that declares it
    categorical: tuple[str, ...] = ()
    numeric: tuple[str, ...] = ()
    ids: tuple[str, ...] = ()  # unique identifiers: distinct values and repeats are profiled
    references: tuple[str, ...] = ()  # ids that repeat by design (a customer's many lines)
    timestamp: str | None = None
    time_format: str | None = None  # e.g. "%Y%m%d"; None: ISO-like text
    target: str | None = None  # excluded from the columns; its positive mask is passed apart
    non_negative: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()  # 0/1 columns
    groups: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # name -> summed columns
    placeholders: tuple[str, ...] = ()  # text meaning "missing", e.g. "Select"

    @property
    def declared(self) -> list[str]:
        special = [c for c in (*self.ids, *self.references, self.timestamp, self.target) if c]
        return [*special, *self.categorical, *self.numeric]


@dataclass(frozen=True)
class ProfileSettings:
    """How much detail, and when a column earns a warning (config.yaml `profile:`)."""

    top_levels: int = 10  # levels listed per category
    bins: int = 10  # quantile bins of a number against the target
    coverage: float = 0.90  # report how many levels cover this share of rows
    confidence: float = 0.95  # of the genuine-rate intervals
    max_missing: float = 0.30  # warn above this missing share
    near_constant: float = 0.99  # warn when one value holds this share of rows
    long_tail: int = 50  # warn when more levels than this are needed to reach `coverage`
    id_like: float = 0.95  # warn when a text column's distinct share of rows reaches this
    leak_auc: float = 0.95  # warn when a column alone separates the target this well
    outlier_iqr: float = 3.0  # outliers lie this many IQRs beyond the quartiles


PROFILE_RULES: dict[str, Rule] = {
    "profile.top_levels": integer(1),
    "profile.bins": integer(2),
    "profile.coverage": between(0, 1, closed="right"),
    "profile.confidence": between(0, 1, closed="neither"),
    "profile.max_missing": SHARE,
    "profile.near_constant": SHARE,
    "profile.long_tail": integer(1),
    "profile.id_like": SHARE,
    "profile.leak_auc": between(0.5, 1),
    "profile.outlier_iqr": between(0, float("inf"), closed="neither"),
}


def _text(values: pd.Series) -> pd.Series:
    return values.astype("string").str.strip()


def _levels(values: pd.Series, placeholders: Sequence[str]) -> tuple[pd.Series, np.ndarray]:
    """Each row's trimmed text as a categorical with missing for blanks and placeholders
    ("Select"), and which rows were placeholders. String work runs once per distinct value."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    text = pd.Series(uniques, dtype="string").str.strip()
    folded = {p.casefold() for p in placeholders}
    is_placeholder = text.str.casefold().isin(folded).to_numpy(dtype=bool, na_value=False)
    keep = ~is_placeholder & text.ne("").to_numpy(dtype=bool, na_value=False)
    levels, level_codes = np.unique(text[keep].to_numpy(dtype=str), return_inverse=True)
    mapping = np.full(len(uniques) + 1, -1)
    mapping[np.flatnonzero(keep)] = level_codes
    category = pd.Categorical.from_codes(mapping[codes], levels)
    placeholder = np.append(is_placeholder, False)[codes]
    return pd.Series(category, index=values.index, name=values.name), placeholder


def wilson(positives: np.ndarray, totals: np.ndarray, confidence: float) -> np.ndarray:
    """Wilson score intervals of rates positives/totals, shape (n, 2); NaN where a total is 0."""
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    n = np.asarray(totals, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = np.asarray(positives, dtype=float) / n
        centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
        half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / (1 + z**2 / n)
    return np.column_stack([centre - half, centre + half])


def separation(score: np.ndarray, positive: np.ndarray) -> tuple[float | None, int]:
    """Univariate ROC-AUC of `score` folded to >= 0.5, and its direction (+1: higher, genuine).

    Counted per distinct value (ties count half), which is fast for the few values counts take.
    """
    values, inverse = np.unique(score, return_inverse=True)
    positives = np.bincount(inverse, weights=positive.astype(float), minlength=len(values))
    negatives = np.bincount(inverse, minlength=len(values)) - positives
    n_pos, n_neg = positives.sum(), negatives.sum()
    if len(values) < 2 or n_pos == 0 or n_neg == 0:
        return None, 0
    below = np.cumsum(negatives) - negatives  # negatives with a lower score
    auc = float((positives * (below + negatives / 2)).sum() / (n_pos * n_neg))
    return (auc, 1) if auc >= 0.5 else (1 - auc, -1)


def _rates(groups: pd.Series, positive: pd.Series, confidence: float) -> list[dict[str, Any]]:
    """Rows, genuine rate and its interval per group label, in the groups' order."""
    table = positive.astype(float).groupby(groups, sort=True, observed=True).agg(["size", "sum"])
    bounds = wilson(table["sum"].to_numpy(), table["size"].to_numpy(), confidence)
    return [
        {"level": str(level), "rows": int(n), "rate": s / n, "low": low, "high": high}
        for (level, n, s), (low, high) in zip(
            table[["size", "sum"]].itertuples(), bounds, strict=True
        )
    ]


def profile_category(
    values: pd.Series,
    settings: ProfileSettings,
    placeholders: Sequence[str],
    positive: pd.Series | None,
) -> dict[str, Any]:
    """Missing and placeholder shares, distinct levels, the top levels and how many levels cover
    `settings.coverage` of the present rows; against the target, the genuine rate per top level
    and the ROC-AUC of the level's genuine rate (in-sample, so rare levels flatter it)."""
    level, placeholder = _levels(values, placeholders)
    missing = level.isna().to_numpy()
    counts = level.value_counts(sort=False)
    counts = counts[counts > 0].sort_index().sort_values(ascending=False, kind="stable")
    present = int(counts.sum())
    shares = counts / max(present, 1)
    cover = int(np.searchsorted(shares.cumsum().to_numpy(), settings.coverage - 1e-12) + 1)
    folded = counts.index.str.casefold().str.replace(r"\s+", " ", regex=True).nunique()
    out: dict[str, Any] = {
        "kind": "category",
        "missing": float(missing.mean()),
        "placeholders": float(placeholder.mean()),
        "distinct": len(counts),
        "distinct_share": len(counts) / max(len(values), 1),
        "variants": len(counts) - int(folded),
        "levels_to_coverage": min(cover, len(counts)),
        "top_share": float(shares.iloc[0]) if present else 0.0,
        "top": [{"level": str(k), "share": float(v)} for k, v in shares.head(20).items()],
    }
    if positive is not None:
        labelled = positive.notna()
        top = counts.index[: settings.top_levels]
        order = [*top, OTHER_LEVELS, MISSING_LEVEL]
        shown = level.cat.add_categories([OTHER_LEVELS, MISSING_LEVEL])
        shown = shown.where(level.isin(top) | level.isna(), OTHER_LEVELS).fillna(MISSING_LEVEL)
        group = shown.cat.set_categories(order)[labelled]
        target = positive[labelled].astype(bool)
        out["rates"] = _rates(group, target, settings.confidence)
        codes = level.cat.codes[labelled].to_numpy()
        rate = target.groupby(codes).transform("mean")
        out["auc"], out["direction"] = separation(rate.to_numpy(), target.to_numpy())
    return out


def finite_numbers(values: pd.Series) -> pd.Series:
    """A column's numbers; text that is not a number, and infinities, are missing."""
    numbers = parse_numbers(values).astype("float64")
    return numbers.where(np.isfinite(numbers))


def _outlier_share(numbers: np.ndarray, quartiles: np.ndarray, spread: float) -> float:
    low, high = quartiles[0] - spread, quartiles[1] + spread
    return float(((numbers < low) | (numbers > high)).mean()) if len(numbers) else 0.0


def profile_number(
    values: pd.Series,
    settings: ProfileSettings,
    positive: pd.Series | None,
    *,
    non_negative: bool = False,
    flag: bool = False,
) -> dict[str, Any]:
    """Missing and unparseable shares, quantiles, zeros, negatives, far-out values (beyond the
    quartiles by `outlier_iqr` IQRs, or by the 1-99% range where the IQR is 0), a 20-bin histogram
    over the 1-99% range, and against the target the genuine rate per quantile bin and the
    value's ROC-AUC. `impossible` counts negatives of a non-negative column and non-0/1 flags."""
    numbers = finite_numbers(values)
    missing = numbers.isna()
    # what was written but is not a finite number (text, or an infinity in a numeric column)
    # written but not a finite number (text, or an infinity); a numeric column skips the text pass
    written = values.notna() if pd.api.types.is_numeric_dtype(values) else ~blank(values)
    unparseable = int((missing & written).sum())
    present = numbers[~missing].to_numpy()
    distinct, repeats = np.unique(present, return_counts=True)
    quantiles = (
        np.quantile(present, list(QUANTILES.values())) if len(present) else np.full(7, np.nan)
    )
    iqr = quantiles[4] - quantiles[2]
    spread = settings.outlier_iqr * (iqr if iqr > 0 else quantiles[5] - quantiles[1])
    impossible = 0
    if non_negative:
        impossible += int((present < 0).sum())
    if flag:
        impossible += int((~np.isin(present, [0, 1])).sum())
    out: dict[str, Any] = {
        "kind": "number",
        "missing": float(missing.mean()),
        "unparseable": unparseable,
        "distinct": len(distinct),
        "quantiles": dict(zip(QUANTILES, quantiles, strict=True)),
        "mean": float(present.mean()) if len(present) else None,
        "std": float(present.std()) if len(present) else None,
        "zeros": float((present == 0).mean()) if len(present) else 0.0,
        "negatives": float((present < 0).mean()) if len(present) else 0.0,
        "outliers": _outlier_share(present, quantiles[[2, 4]], spread) if len(present) else 0.0,
        "impossible": impossible,
        "top_share": float(repeats.max() / len(present)) if len(present) else 0.0,
        "histogram": _histogram(present, quantiles[1], quantiles[5]),
    }
    if positive is not None and len(present):
        labelled = positive.notna() & ~missing
        target = positive[labelled].astype(bool)
        x = numbers[labelled]
        edges = np.unique(np.quantile(present, np.linspace(0, 1, settings.bins + 1)[1:-1]))
        codes = np.searchsorted(edges, x.to_numpy(), side="left")
        bounds = [-np.inf, *edges, np.inf]
        labels = [_interval(bounds[i], bounds[i + 1]) for i in range(len(bounds) - 1)]
        group = pd.Series(pd.Categorical.from_codes(codes, labels), index=target.index)
        out["rates"] = _rates(group, target, settings.confidence)
        out["auc"], out["direction"] = separation(x.to_numpy(), target.to_numpy())
    return out


def _interval(low: float, high: float) -> str:
    if np.isinf(low):
        return f"≤ {high:g}"
    return f"> {low:g}" if np.isinf(high) else f"({low:g}, {high:g}]"


def _histogram(present: np.ndarray, low: float, high: float) -> dict[str, list[float]]:
    """20 bins over [1%, 99%] (one bin per value for small integer ranges); tails counted apart."""
    if not len(present):
        return {"edges": [], "counts": []}
    integral = np.all(present == np.round(present)) and high - low <= 20
    edges = np.arange(low - 0.5, high + 1.5) if integral else np.linspace(low, high, 21)
    if len(edges) < 2 or edges[0] == edges[-1]:
        edges = np.array([low - 0.5, low + 0.5])
    counts, _ = np.histogram(np.clip(present, edges[0], edges[-1]), bins=edges)
    return {"edges": edges.tolist(), "counts": counts.tolist()}


def profile_time(values: pd.Series, time_format: str | None) -> dict[str, Any]:
    """Range, unparseable share, rows per ISO week (Mondays) and the days without any row."""
    text = _text(values)
    if pd.api.types.is_datetime64_any_dtype(values):
        times = values
    elif time_format:
        times = pd.to_datetime(text, format=time_format, errors="coerce")
    else:
        times = pd.to_datetime(text, errors="coerce", format="ISO8601")
    present = times.dropna()
    out: dict[str, Any] = {
        "kind": "time",
        "missing": float(blank(values).mean()),
        "unparseable": int((times.isna() & ~blank(values)).sum()),
    }
    if present.empty:
        return out | {"first": None, "last": None, "weeks": {}, "empty_days": 0, "longest_gap": 0}
    days = present.dt.normalize()
    span = pd.date_range(days.min(), days.max(), freq="D")
    active = pd.DatetimeIndex(days.unique())
    empty = span.difference(active)
    day_numbers = np.sort(active.to_numpy().astype("datetime64[D]").astype(np.int64))
    gaps = np.diff(day_numbers) - 1 if len(active) > 1 else [0]
    weeks = (days - pd.to_timedelta(days.dt.day_of_week, unit="D")).value_counts().sort_index()
    return out | {
        "first": str(present.min()),
        "last": str(present.max()),
        "weeks": {k.strftime("%Y-%m-%d"): int(v) for k, v in weeks.items()},
        "empty_days": len(empty),
        "longest_gap": int(max(gaps)),
    }


def profile_id(values: pd.Series, *, unique: bool) -> dict[str, Any]:
    """Distinct values and rows per value; a `unique` id also counts its repeats."""
    missing = blank(values)
    per_value = _text(values)[~missing].value_counts(sort=False)
    return {
        "kind": "id",
        "unique": unique,
        "missing": float(missing.mean()),
        "distinct": len(per_value),
        "repeated": int((per_value - 1).sum()) if unique else 0,
        "rows_per_value": {
            "mean": float(per_value.mean()) if len(per_value) else 0.0,
            "max": int(per_value.max()) if len(per_value) else 0,
        },
    }


def correlations(numbers: pd.DataFrame) -> pd.DataFrame:
    """Pearson correlations of sign(x)·log(1 + |x|): counts and amounts are skewed, and on the log
    scale a few large values do not decide the coefficient. Constant columns are left out."""
    varying = numbers.loc[:, numbers.max() > numbers.min()]
    if varying.shape[1] < 2:
        return pd.DataFrame()
    return pd.DataFrame(np.sign(varying) * np.log1p(np.abs(varying))).corr()


def _kind_of(column: str, values: pd.Series, plan: ProfilePlan) -> str:
    if column in plan.ids or column in plan.references:
        return "id"
    if column == plan.timestamp:
        return "time"
    if column in plan.numeric:
        return "number"
    if column in plan.categorical:
        return "category"
    return "number" if pd.api.types.is_numeric_dtype(values) else "category"


def profile_table(
    df: pd.DataFrame,
    plan: ProfilePlan,
    settings: ProfileSettings,
    positive: pd.Series | None = None,
    *,
    target_problem: str | None = None,
) -> dict[str, Any]:
    """The whole profile: the table, each column (in the file's order), the groups' totals, the
    target analysis (when `positive`, a boolean mask with missing for unlabelled rows, is given;
    `target_problem` says why it is not), correlations and warnings."""
    columns: dict[str, Any] = {}
    numbers: dict[str, pd.Series] = {}
    for column in df.columns.drop(plan.target, errors="ignore"):
        values = df[column]
        kind = _kind_of(column, values, plan)
        if kind == "id":
            summary = profile_id(values, unique=column in plan.ids)
        elif kind == "time":
            summary = profile_time(values, plan.time_format)
        elif kind == "number":
            summary = profile_number(
                values,
                settings,
                positive,
                non_negative=column in plan.non_negative,
                flag=column in plan.flags,
            )
            numbers[str(column)] = finite_numbers(values)
        else:
            summary = profile_category(values, settings, plan.placeholders, positive)
        columns[str(column)] = {"role": plan.keys.get(column, "undeclared")} | summary
    groups = {}
    for group, members in plan.groups.items():
        present = [c for c in members if c in numbers]
        if present:
            total = pd.concat([numbers[c] for c in present], axis=1).sum(axis=1, min_count=1)
            groups[group] = profile_number(total, settings, positive) | {"members": present}
            numbers[f"{group} (total)"] = total
    profile: dict[str, Any] = {
        "input": plan.name,
        "coverage": settings.coverage,
        "table": {
            "rows": len(df),
            "columns": df.shape[1],
            "duplicate_rows": int(duplicate_rows(df).sum()),
            "memory_mb": float(df.memory_usage(deep=True).sum() / 2**20),
        },
        "columns": columns,
        "groups": groups,
        "absent": {c: plan.keys[c] for c in plan.declared if c not in df.columns},
        "target_problem": target_problem,
    }
    if positive is not None:
        labelled = positive.dropna()
        profile["target"] = {
            "column": plan.target,
            "labelled": len(labelled),
            "rate": float(labelled.astype(float).mean()) if len(labelled) else None,
        }
    corr = correlations(pd.DataFrame(numbers))
    profile["correlations"] = {
        "columns": list(corr.columns),
        "matrix": corr.round(4).to_numpy().tolist(),
    }
    profile["findings"] = findings(profile, settings)
    profile["warnings"] = warning_lines(profile["findings"])
    return profile

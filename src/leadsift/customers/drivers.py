"""What makes a product sell: a table of the marketplace's products as of a date (what was known
of each then) and the units each sold in the period after it, a LightGBM model of it with exact
per-feature contributions and partial dependence (what the model uses: descriptive), and a causal
estimate of the commission's effect (`core.causal`: what raising it would do).

The causal estimate adjusts for the common causes of commission and sales measured before the
date (`CONTROLS`: price, category, niche, age, the producer's product count) and not for what the
commission itself moves (the affiliate share of past sales: a mediator), nor for past sales of
the product (which its commission caused).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from lightgbm import LGBMRegressor
from sklearn.inspection import partial_dependence

from leadsift.core import causal
from leadsift.core.io import InputError
from leadsift.customers.features import ends_month

TREATMENT = "commission"
CONTROLS = ["price", "category", "niche", "age_days", "producer_products"]
CATEGORICAL = ["category", "niche"]
TABLE_COLUMNS = ["producer", "category", "niche", "price", "commission", "age_days",
                 "producer_products", "affiliate_share", "social_share", "smartphone_share",
                 "units"]  # fmt: skip
MIN_PRODUCTS = 50  # fewer products in the table: no model, no estimate (said so)


def product_table(lines: pd.DataFrame, as_of: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    """One row per product on sale before `as_of` (sold before it) with what was known of it
    then: its attributes from its lines before the date (price: the median z-score where values
    are z-scored), its age (from its creation date, else its first sale), its producer's product
    count, its past sales' channel and device mix; and `units`, its net units sold in
    [as_of, end)."""
    lines = lines[lines["product"].notna()]
    before = lines[lines["timestamp"] < as_of]
    if before.empty:
        return pd.DataFrame(columns=["product", *TABLE_COLUMNS])
    bought = before[~before["cancellation"]]
    window = lines[(lines["timestamp"] >= as_of) & (lines["timestamp"] < end)]
    grouped = before.groupby("product")
    created = grouped["product_created"].min().fillna(grouped["timestamp"].min())
    price = "value_z" if before["value_z"].notna().any() else "unit_price"
    table = pd.DataFrame(
        {
            "producer": grouped["producer"].agg(_mode),
            "category": grouped["category"].agg(_mode),
            "niche": grouped["niche"].agg(_mode),
            "price": grouped[price].median(),
            "commission": grouped["commission"].median(),
            "age_days": (as_of - created).dt.days,
        }
    )
    table["producer_products"] = table.groupby("producer")["age_days"].transform("size")
    units = bought.groupby("product")["quantity"].sum()
    shares = {
        "affiliate_share": bought["affiliate"].notna(),
        "social_share": bought["social_origin"].fillna(False).astype(bool),
        "smartphone_share": bought["device"].str.casefold().isin(["smartphone", "mobile"]),
    }
    for name, flag in shares.items():
        table[name] = (bought["quantity"] * flag).groupby(bought["product"]).sum() / units
    sold = window.groupby("product")["quantity"].sum()
    table["units"] = sold.reindex(table.index).fillna(0).clip(lower=0)
    return table.rename_axis("product").reset_index()


def _mode(values: pd.Series) -> object:
    counts = values.dropna().value_counts()
    return counts.index[0] if len(counts) else pd.NA


def encoded(table: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """The columns as LightGBM reads them: text as categories in sorted order (stable codes)."""
    out = table[columns].copy()
    for column in CATEGORICAL:
        if column in out:
            levels = sorted(out[column].dropna().unique())
            out[column] = pd.Categorical(out[column], categories=levels)
    return out


def numeric(table: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """The columns as a float matrix (categories as their codes, missing as -1)."""
    frame = encoded(table, columns)
    for column in CATEGORICAL:
        if column in frame:
            frame[column] = frame[column].cat.codes
    return frame.to_numpy(dtype=float)


def regressor(seed: int, **options: int | float) -> LGBMRegressor:
    """A small, deterministic gradient-boosted regressor (a few hundred products)."""
    settings = {
        "n_estimators": 300,
        "learning_rate": 0.03,
        "num_leaves": 15,
        "min_child_samples": 10,
        **options,
    }
    return LGBMRegressor(
        random_state=seed, deterministic=True, force_col_wise=True, n_jobs=1, verbose=-1, **settings
    )


def nuisance_learner(seed: int) -> LGBMRegressor:
    """The nuisance learner: regularised enough that a learner fitted to noise predicts nearly a
    constant (a looser one let the placebo find effects in shuffled commissions)."""
    return regressor(seed, n_estimators=200, num_leaves=7, min_child_samples=30)


def table_dates(
    times: pd.Series, as_of: str | None, outcome_months: int
) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The product table's date and the end of its outcome period: by default the last full
    month's end and `outcome_months` before it."""
    last = times.max()
    end = last.to_period("M").start_time
    if ends_month(last):
        end += pd.DateOffset(months=1)
    start = pd.Timestamp(as_of) if as_of else end - pd.DateOffset(months=outcome_months)
    if as_of:
        end = start + pd.DateOffset(months=outcome_months)
    return start, end


def unfit_reason(
    table: pd.DataFrame, times: pd.Series, as_of: pd.Timestamp, end: pd.Timestamp
) -> str | None:
    """Why the product table cannot be modelled (None: it can): no product role, an export that
    does not cover the table's date and outcome period, or too few products."""
    if as_of <= times.min() or end > times.max() + pd.Timedelta(days=1):
        return (
            f"the table's date {as_of.date()} and outcome period to {end.date()} need lines "
            f"on both sides; the export runs from {times.min().date()} to "
            f"{times.max().date()}: set `customers_drivers.as_of` or `outcome_months`"
        )
    if table.empty:
        return (
            "no products: set `transactions.product` (or `description`) to model what makes "
            "a product sell"
        )
    if table["commission"].notna().any() and table["commission"].nunique() < 2:
        return "every product has the same commission: nothing to learn its effect from"
    if len(table) < MIN_PRODUCTS:
        return (
            f"{len(table)} products, fewer than {MIN_PRODUCTS}: too few to model; move "
            "`customers_drivers.as_of` later or give a longer export"
        )
    return None


def usable_features(table: pd.DataFrame) -> list[str]:
    """The table's features that vary: a role the export lacks leaves its column empty (or, for
    a share, constant)."""
    candidates = [*CONTROLS, TREATMENT, "affiliate_share", "social_share", "smartphone_share"]
    return [c for c in candidates if table[c].dropna().drop_duplicates().size > 1]


@dataclass(frozen=True)
class Drivers:
    """The descriptive model's readings and the causal estimate, with its two checks."""

    contributions: pd.DataFrame  # feature, mean |contribution|, mean contribution (log units)
    dependence: pd.DataFrame  # feature, value, prediction: partial dependence of the levers
    effect: causal.Effect | None  # of one commission point on log(1 + units), adjusted
    naive: causal.Effect | None  # the slope of log(1 + units) on commission alone
    placebo: causal.Placebo | None  # of shuffled commissions: should cover 0
    controls: tuple[str, ...] = ()  # what the estimate adjusted for (the table's of `CONTROLS`)


def describe_drivers(
    table: pd.DataFrame,
    features: list[str],
    *,
    seed: int,
    level: float,
    folds: int,
    placebo_draws: int,
) -> Drivers:
    """Fit the descriptive model on every product of the table and estimate the commission's
    effect on log(1 + units) adjusted for `CONTROLS` (`unfit_reason` says when not to)."""
    y = np.log1p(table["units"].to_numpy(dtype=float))
    x = encoded(table, features)
    model = regressor(seed).fit(x, y)
    values = model.predict(x, pred_contrib=True)[:, :-1]
    contributions = pd.DataFrame(
        {
            "feature": features,
            "mean_abs_contribution": np.abs(values).mean(axis=0),
            "mean_contribution": values.mean(axis=0),
        }
    ).sort_values("mean_abs_contribution", ascending=False, ignore_index=True)
    dependence = []
    for lever in [f for f in ("commission", "price") if f in features]:
        curve = partial_dependence(model, x, [lever], kind="average", grid_resolution=20)
        dependence.append(
            pd.DataFrame(
                {
                    "feature": lever,
                    "value": curve["grid_values"][0],
                    "log1p_units": curve["average"][0],
                }
            )
        )
    curves = pd.concat(dependence, ignore_index=True) if dependence else pd.DataFrame()
    if TREATMENT not in features:
        return Drivers(contributions, curves, None, None, None)
    adjusted = [c for c in CONTROLS if c in features]
    known = table[TREATMENT].notna().to_numpy()  # a product whose commission is blank: left out
    y, d = y[known], table[TREATMENT].to_numpy(dtype=float)[known]
    controls = numeric(table[known], adjusted)
    options = {"folds": folds, "seed": seed, "level": level}
    return Drivers(
        contributions,
        curves,
        causal.partialling_out(y, d, controls, nuisance_learner(seed), **options),
        causal.naive_slope(y, d, level),
        causal.placebo(y, d, controls, nuisance_learner(seed), draws=placebo_draws, **options),
        tuple(adjusted),
    )


def true_commission_effect(truth: pd.DataFrame, products: pd.Series, day: float) -> float:
    """The generator's effect of one commission point on a product's log expected units, averaged
    over `products`: its demand coefficient times one minus the product's share of its price
    point's demand at `day` (days from the generator's start); what a buyer choosing within the
    point implies (`synth_market`). An approximation of the estimand: the estimate is on
    log(1 + units), weights products by their commission's residual variance, and a window's
    units include repeat purchases of choices made earlier, among fewer products."""
    alive = truth[truth["created"] <= day]
    weight = np.exp(alive["log_weight"] + alive["trend"] * day / 365.25)
    share = weight / weight.groupby(alive["point"]).transform("sum")
    shares = share.set_axis(alive["code"]).reindex(products.str.upper())
    if shares.isna().any():
        raise InputError("the market truth does not hold every product of the table")
    return float(truth["commission_effect"].iloc[0] * (1 - shares).mean())


def truth_for(
    truth_path: Path,
    export_path: Path,
    table: pd.DataFrame,
    as_of: pd.Timestamp,
    end: pd.Timestamp,
) -> float | None:
    """The generator's true effect for the table's products at the outcome period's middle, when
    the truth is the export's: the generator wrote both (side by side) and it holds every
    product. A shop's own export lies elsewhere: None."""
    if not truth_path.exists() or export_path.resolve().parent != truth_path.resolve().parent:
        return None
    truth = pd.read_parquet(truth_path)
    if not set(table["product"].str.upper()) <= set(truth["code"]):
        return None
    start = pd.Timestamp(truth["start"].iloc[0])
    middle = (as_of + (end - as_of) / 2 - start) / pd.Timedelta(days=1)
    return true_commission_effect(truth, table["product"], middle)


def summary(
    found: Drivers | None,
    truth: float | None,
    *,
    as_of: pd.Timestamp,
    end: pd.Timestamp,
    products: int,
    note: str | None = None,
) -> dict:
    """drivers.json: the table's period, the levers the model leans on, and the commission's
    effect (adjusted, naive, placebo) against the truth where there is one; `note` says why
    there is no model."""
    out = {
        "as_of": str(as_of.date()),
        "outcome_end": str(end.date()),
        "products": products,
        "outcome": "log(1 + units sold from as_of to outcome_end)",
        "note": note,
        "top_features": [] if found is None else found.contributions["feature"][:3].tolist(),
        "commission": None,
    }
    if found is None or found.effect is None:
        return out
    commission = {
        "method": "double machine learning, partially linear, cross-fitted (LightGBM nuisances)",
        "adjusted_for": list(found.controls),
        "effect": found.effect.as_dict(),
        "naive": found.naive.as_dict(),
        "placebo": found.placebo.as_dict(),
        "placebo_covers_zero": found.placebo.effect.covers(0.0),
    }
    if truth is not None:
        commission["truth"] = {
            "effect": truth,
            "covered": found.effect.covers(truth),
            "error_share": abs(found.effect.estimate - truth) / abs(truth),
            "naive_error_share": abs(found.naive.estimate - truth) / abs(truth),
        }
    out["commission"] = commission
    return out

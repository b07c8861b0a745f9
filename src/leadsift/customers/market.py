"""The marketplace's questions on its clean lines: does it depend on its biggest producers
(products, affiliates), and which niches, categories, devices and origins are gaining or losing.

Everything is net of cancellations. Units need no assumption about money; where the export's
values are z-scores (`transactions.value_standardised`, as in Hotmart's public export), revenue
is known only up to the values' mean and spread: a line's value is mean * (1 + cv * z) for an
unknown coefficient of variation cv, the mean cancels out of every share, and the shares are
given for each stated cv (`customers_market.value_cvs`) and as their range.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from leadsift.customers.features import ends_month
from leadsift.customers.segment_summary import concentration

AT_RISK = (1, 5, 10)  # revenue and units lost if the biggest this many producers left
SELLERS = ("producer", "product", "affiliate")
DIMENSIONS = ("niche", "category", "device", "origin")
CASE_QUANTILE = 0.95  # the case's "big producer": above this quantile of units sold


def line_values(lines: pd.DataFrame, cv: float | None, *, per_unit: bool = True) -> pd.Series:
    """Each line's revenue: its amount, or with z-scored values (`value_z`), (1 + cv * z) in
    units of the unknown mean value, per unit (z-scored unit prices) or per line (z-scored
    amounts), signed as the line's quantity."""
    if cv is None:
        return lines["amount"]
    worth = 1 + cv * lines["value_z"]
    return lines["quantity"] * worth if per_unit else np.sign(lines["quantity"]) * worth


def valid_cvs(lines: pd.DataFrame, cvs: Sequence[float]) -> list[float]:
    """The stated cvs under which every purchase is worth more than nothing (1 + cv * z > 0)."""
    lowest = float(lines.loc[~lines["cancellation"], "value_z"].min())
    return [cv for cv in cvs if 1 + cv * lowest > 0]


def shares(values: pd.Series) -> dict[str, float]:
    """Top shares, Gini and HHI (0 to 10,000) of positive net totals, and the count."""
    positive = values[values > 0]
    total = max(float(positive.sum()), 1e-12)
    summary = concentration(positive)
    summary.pop("customers")
    hhi = float(((positive / total) ** 2).sum() * 10_000)
    return {**summary, "hhi": hhi, "count": len(positive)}


def at_risk(values: pd.Series, ranked: pd.Index) -> dict[str, float]:
    """The share of `values`' total held by the first 1, 5 and 10 of `ranked`."""
    total = max(float(values.clip(lower=0).sum()), 1e-12)
    return {
        f"top_{k}": float(values.reindex(ranked[:k]).clip(lower=0).sum() / total) for k in AT_RISK
    }


def dependence(lines: pd.DataFrame, cvs: Sequence[float] | None, *, per_unit: bool = True) -> dict:
    """Concentration of units and revenue over producers, products and affiliates (affiliate
    sales only), the case's big producers, and what the biggest producers' leaving would cost.
    `cvs` None: the values are money; else revenue is given for each cv and as a range (none if
    no cv is valid). `per_unit`: the z-scores are unit prices', else lines' (`line_values`)."""
    variants = {"revenue": None} if cvs is None else {f"revenue_cv_{cv:g}": cv for cv in cvs}
    ranged = bool(cvs)  # no stated cv valid: revenue is not given at all
    out: dict = {}
    for seller, units in seller_units(lines, SELLERS).items():
        if units.empty:
            continue
        sold = lines[lines[seller].notna()]
        revenues = {
            name: line_values(sold, cv, per_unit=per_unit).groupby(sold[seller]).sum()
            for name, cv in variants.items()
        }
        entry = {"units": shares(units), **{n: shares(r) for n, r in revenues.items()}}
        if ranged:
            entry["revenue_range"] = _ranges([entry[n] for n in variants])
        if seller == "producer":
            entry.update(_producer_risk(units, revenues, ranged=ranged))
        out[seller] = entry
    return out


def _producer_risk(units: pd.Series, revenues: dict[str, pd.Series], *, ranged: bool) -> dict:
    """The case's big producers (by `units`) and their share of each of `revenues`, and what the
    biggest 1, 5 and 10 producers' leaving would take of each."""
    big = units.index[units > units.quantile(CASE_QUANTILE)]
    by_units = units.sort_values(ascending=False, kind="stable").index
    case = {
        "producers": len(big),
        "threshold_units": float(units.quantile(CASE_QUANTILE)),
        "units_share": float(units[big].sum() / units.clip(lower=0).sum()),
    }
    risk = {"units": at_risk(units, by_units)}
    for name, revenue in revenues.items():
        case[f"{name}_share"] = float(
            revenue[big].clip(lower=0).sum() / revenue.clip(lower=0).sum()
        )
        risk[name] = at_risk(revenue, revenue.sort_values(ascending=False, kind="stable").index)
    if ranged:
        risk["revenue_range"] = _ranges([risk[n] for n in revenues])
    return {"case_definition": case, "at_risk": risk}


def _ranges(entries: list[dict]) -> dict[str, list[float]]:
    return {k: [min(e[k] for e in entries), max(e[k] for e in entries)] for k in entries[0]}


def monthly(lines: pd.DataFrame, month: pd.Series, dimension: str) -> pd.DataFrame:
    """Units and revenue of each value of `dimension` per full calendar month (`month`: each
    line's, missing outside the full months)."""
    kept = lines[month.notna() & lines[dimension].notna()]
    table = (
        kept.groupby([month[kept.index].rename("month"), kept[dimension]])
        .agg(units=("quantity", "sum"), revenue=("amount", "sum"))
        .reset_index()
        .rename(columns={dimension: "value"})
    )
    return table.assign(dimension=dimension)


def full_months(stamps: pd.Series) -> pd.Series:
    """Each timestamp's month, missing in a first or last month the data do not cover whole."""
    month = stamps.dt.to_period("M")
    full = month.between(
        month.min() + int(stamps.min().day > 1),
        month.max() - int(not ends_month(stamps.max())),
    )
    return month.where(full)


def trends(table: pd.DataFrame, alpha: float) -> pd.DataFrame:
    """Per dimension value, the trend of its share of the dimension's units per month: the OLS
    slope (share per year) with a Newey-West (HAC) standard error, since a share persists from
    month to month (repeat buyers), its p-value, significant at `alpha` after Bonferroni over
    every value tested, and the fitted shares at the first and last month. Kendall's tau is
    given as a description. Shares, not totals, so the shop's growth and seasons (common to every
    value) are not called trends."""
    rows = []
    for (dimension, value), group in table.groupby(["dimension", "value"], sort=True):
        totals = table[table["dimension"] == dimension].groupby("month")["units"].sum()
        share = (group.set_index("month")["units"] / totals).reindex(totals.index).fillna(0.0)
        rows.append({"dimension": dimension, "value": value, "months": len(share),
                     **_trend(share.to_numpy())})  # fmt: skip
    out = pd.DataFrame(rows)
    out["significant"] = out["p_value"] * max(len(out), 1) < alpha
    return out


def _trend(share: np.ndarray) -> dict[str, float]:
    t = np.arange(len(share)) / 12.0
    if len(share) < 4 or np.ptp(share) == 0:
        level = float(share.mean()) if len(share) else np.nan
        return {"first_share": level, "last_share": level, "slope_per_year": 0.0,
                "kendall_tau": np.nan, "p_value": 1.0}  # fmt: skip
    # statsmodels takes a second to import: only the stage that tests trends pays it (the report
    # and customers_drivers import this module for its constants and helpers)
    import statsmodels.api as sm  # noqa: PLC0415

    lags = max(1, int(4 * (len(share) / 100) ** (2 / 9)))  # the Newey-West rule of thumb
    fit = sm.OLS(share, sm.add_constant(t)).fit(cov_type="HAC", cov_kwds={"maxlags": lags})
    fitted = fit.fittedvalues
    tau = float(stats.kendalltau(t, share)[0])
    return {"first_share": float(fitted[0]), "last_share": float(fitted[-1]),
            "slope_per_year": float(fit.params[1]), "kendall_tau": tau,
            "p_value": float(fit.pvalues[1])}  # fmt: skip


def movers(table: pd.DataFrame) -> list[dict]:
    """Each dimension's significant trend of the largest slope, rising or falling, largest
    first."""
    significant = table[table["significant"]]
    order = significant["slope_per_year"].abs().sort_values(ascending=False, kind="stable")
    shown = significant.loc[order.index].drop_duplicates("dimension")
    return [
        {
            "dimension": r.dimension,
            "value": r.value,
            "direction": "rising" if r.slope_per_year > 0 else "falling",
            "slope_per_year": r.slope_per_year,
            "first_share": r.first_share,
            "last_share": r.last_share,
        }
        for r in shown.itertuples()
    ]


def monthly_tables(lines: pd.DataFrame, alpha: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every dimension the export has: monthly units and revenue by value, and their trends."""
    present = [d for d in DIMENSIONS if lines[d].notna().any()]
    if not present:
        return pd.DataFrame(columns=["month", "value", "units", "revenue", "dimension"]), (
            pd.DataFrame(columns=["dimension", "value", "significant", "slope_per_year"])
        )
    month = full_months(lines["timestamp"])
    table = pd.concat([monthly(lines, month, d) for d in present], ignore_index=True)
    return table, trends(table, alpha)


def seller_units(lines: pd.DataFrame, sellers: Sequence[str]) -> dict[str, pd.Series]:
    """Net units per seller of each kind (affiliates: affiliate sales only)."""
    return {s: lines[lines[s].notna()].groupby(s)["quantity"].sum() for s in sellers}

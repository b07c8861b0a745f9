"""What the segments are: sizes, shares of customers and revenue, median features, a name from a
published rule table, revenue concentration, and agreement with a known truth.

Names come from the RFM vocabulary marketing teams know (Putler, Shopify, Klaviyo): each
segment's median recency, frequency and total spend are scored 1-5 against all customers
(quintiles; 5 = most recent, most frequent, highest spend), F and M are averaged into FM, and the
first row of `RFM_NAMES` whose ranges hold names the segment. The feature that sets the segment
apart most (largest standardised distance of its median from all customers') is added as a
trait, e.g. "Champions: big orders", so two segments with the same RFM name still read apart.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import adjusted_mutual_info_score, adjusted_rand_score

# (name, lowest R, highest R, lowest FM, highest FM): the first row that holds wins.
RFM_NAMES = (
    ("Champions", 4, 5, 4, 5),
    ("Loyal", 3, 5, 4, 5),
    ("Can't Lose Them", 1, 2, 5, 5),
    ("At Risk", 1, 2, 3, 4),
    ("Potential Loyalists", 4, 5, 3, 3),
    ("New", 5, 5, 1, 2),
    ("Promising", 4, 4, 1, 2),
    ("Need Attention", 3, 3, 3, 3),
    ("About To Sleep", 3, 3, 1, 2),
    ("Hibernating", 2, 2, 1, 2),
    ("Lost", 1, 1, 1, 2),
)
# feature: (said when the segment's median is high, said when it is low)
TRAITS = {
    "avg_order_value": ("big orders", "small orders"),
    "lines_per_order": ("large baskets", "single items"),
    "units_per_line": ("bulk units", "one unit per item"),
    "repeat_share": ("repeat buyers of one product", "variety seekers"),
    "cancellation_rate": ("frequent cancellations", "rare cancellations"),
    "tenure_days": ("long-standing", "recently joined"),
    "orders_per_month": ("frequent buyers", "occasional buyers"),
    "distinct_products": ("broad range", "narrow range"),
}


def score(value: float, population: pd.Series, *, high_is_good: bool = True) -> int:
    """1-5: the quintile of `population` that `value` falls in (5 = best)."""
    share = float((population < value).mean() + 0.5 * (population == value).mean())
    quintile = min(int(share * 5) + 1, 5)
    return quintile if high_is_good else 6 - quintile


def rfm_name(recency: int, fm: int) -> str:
    """The first name in RFM_NAMES whose R and FM ranges hold (every pair is named)."""
    return next(
        name
        for name, r_low, r_high, fm_low, fm_high in RFM_NAMES
        if r_low <= recency <= r_high and fm_low <= fm <= fm_high
    )


def segment_names(medians: pd.DataFrame, customers: pd.DataFrame) -> dict[int, str]:
    """A readable, distinct name per segment (rows of `medians`, indexed by segment number)."""
    spread = np.log1p(customers.clip(lower=0))
    centre, scale = spread.median(), spread.std().replace(0, 1)
    names: dict[int, str] = {}
    for segment, row in medians.iterrows():
        r = score(row["recency_days"], customers["recency_days"], high_is_good=False)
        f = score(row["frequency"], customers["frequency"])
        m = score(row["monetary"], customers["monetary"])
        z = pd.Series(
            {t: (np.log1p(max(row[t], 0)) - centre[t]) / scale[t] for t in TRAITS if t in row}
        )
        ordered = z.abs().sort_values(ascending=False, kind="stable").index
        base = rfm_name(r, int(np.floor((f + m) / 2 + 0.5)))
        for trait in ordered:
            name = f"{base}: {TRAITS[trait][0 if z[trait] > 0 else 1]}"
            if name not in names.values():
                break
        else:
            name = f"{base} {segment}"
        names[int(segment)] = name
    return names


def segment_table(customers: pd.DataFrame, segments: np.ndarray) -> pd.DataFrame:
    """Per segment: customers and their share, net revenue and its share (spend is clipped at 0,
    so a customer who cancelled more than bought adds nothing), and every feature's median."""
    revenue = customers["monetary"].clip(lower=0)
    frame = customers.assign(segment=segments, revenue=revenue)
    grouped = frame.groupby("segment")
    table = grouped[list(customers.columns)].median()
    table.insert(0, "revenue_share", grouped["revenue"].sum() / max(revenue.sum(), 1e-12))
    table.insert(0, "revenue", grouped["revenue"].sum())
    table.insert(0, "customer_share", grouped.size() / len(frame))
    table.insert(0, "customers", grouped.size())
    return table


def concentration(revenue: pd.Series, tops: tuple[float, ...] = (0.01, 0.05, 0.2)) -> dict:
    """How much revenue the biggest customers bring: the share of the top 1%, 5%, 20% of
    customers, and the Gini coefficient of net revenue per customer (0 = all equal)."""
    values = np.sort(revenue.clip(lower=0).to_numpy())[::-1]
    total = max(values.sum(), 1e-12)
    shares = {
        f"top_{round(100 * t):d}pct": float(values[: max(1, round(t * len(values)))].sum() / total)
        for t in tops
    }
    ascending = values[::-1]
    n = len(ascending)
    gini = float((2 * np.arange(1, n + 1) - n - 1) @ ascending / (n * total)) if n else 0.0
    return {**shares, "gini": gini, "customers": n}


def lorenz_curve(revenue: pd.Series, points: int = 101) -> pd.DataFrame:
    """The Lorenz curve: the share of revenue held by the poorest x share of customers."""
    ascending = np.sort(revenue.clip(lower=0).to_numpy())
    cumulative = np.concatenate([[0.0], np.cumsum(ascending)]) / max(ascending.sum(), 1e-12)
    customers = np.linspace(0, 1, len(cumulative))
    grid = np.linspace(0, 1, points)
    return pd.DataFrame({"customers": grid, "revenue": np.interp(grid, customers, cumulative)})


def agreement(ours: pd.Series, truth: pd.DataFrame) -> dict | None:
    """Chance-adjusted agreement with the generator's true segments, and the ceiling: the same
    for the Bayes-optimal assignment from the same history. None without a truth for every
    segmented customer (a shop's own data)."""
    matched = truth.set_index("customer_id").reindex(ours.index)
    if matched["segment"].isna().any():
        return None
    ceiling = adjusted_rand_score(matched["segment"], matched["bayes_segment"])
    ari = adjusted_rand_score(matched["segment"], ours)
    return {
        "ari": float(ari),
        "ari_ceiling": float(ceiling),
        "ari_share_of_ceiling": float(ari / ceiling) if ceiling > 0 else None,
        "ami": float(adjusted_mutual_info_score(matched["segment"], ours)),
        "ami_ceiling": float(
            adjusted_mutual_info_score(matched["segment"], matched["bayes_segment"])
        ),
        "true_segments": int(matched["segment"].nunique()),
    }


def describe(
    customers: pd.DataFrame, segments: np.ndarray, truth: pd.DataFrame | None
) -> tuple[dict, pd.DataFrame, dict[int, str]]:
    """The segmentation's report (reports/customers/segments.json), its profile table and its
    names: per segment counts, shares and medians; revenue concentration; agreement with the
    truth where there is one."""
    table = segment_table(customers, segments)
    names = segment_names(table[list(customers.columns)], customers)
    ours = pd.Series(segments, index=customers.index)
    report = {
        "segments": {
            str(segment): {"name": names[segment], **row.to_dict()}
            for segment, row in table.iterrows()
        },
        "concentration": concentration(customers["monetary"]),
        "truth": agreement(ours, truth) if truth is not None else None,
    }
    return report, table, names

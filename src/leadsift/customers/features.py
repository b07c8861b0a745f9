"""Customer features as of a reference date: RFM and what else describes how a customer buys.

Only lines before `as_of` count, and guests (no customer id) are left out. Money is net of
cancellations: `monetary` is the customer's *total* net spend, `avg_order_value` its mean per
purchase invoice. Aggregation is columnar (numpy over factorised customer ids), so it scales to
millions of lines without Python objects per line.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from leadsift.core.contract import Cells, Rule, contract_violations, finite_number, rule
from leadsift.core.io import InputError

DAYS_PER_MONTH = 365.25 / 12
FEATURES = (
    "recency_days",  # days from the last purchase to as_of
    "frequency",  # purchase invoices (orders)
    "monetary",  # net spend: purchases minus cancellations
    "tenure_days",  # days from the first purchase to as_of
    "avg_order_value",  # monetary / frequency
    "avg_unit_price",  # spend per unit bought: what a customer buys, more than how much
    "cancellation_rate",  # cancellation invoices / purchase invoices
    "distinct_products",  # products bought
    "lines_per_order",  # purchase lines / purchase invoices
    "units_per_line",  # units bought / purchase lines
    "repeat_share",  # 1 - distinct products / purchase lines: buying the same product again
    "orders_per_month",  # frequency / tenure in months (at least one month)
)


# What a customer summary must be to be segmented (the served model checks each one against it):
# what `customer_features` can give. Counts, amounts, days and shares are finite and not
# negative (net spend may round to a hair below zero); a customer has at least one order, a share
# is at most 1, and each cancellation invoice cancels at least one unit the customer bought.
AT_LEAST_ONE = ("frequency", "lines_per_order", "distinct_products")
SHARES = ("repeat_share",)
ROUNDING = 1e-9


def _cancellations_possible(cells: Cells) -> pd.Series:
    numbers = cells.numbers
    units_per_order = numbers["lines_per_order"] * numbers["units_per_line"]
    possible = numbers["cancellation_rate"] <= units_per_order + ROUNDING
    return possible | units_per_order.isna() | numbers["cancellation_rate"].isna()


def summary_contract(columns: Sequence[str], required: Sequence[str]) -> list[Rule]:
    """The rules a customer summary with `columns` must meet, each naming the failing column; the
    `required` ones (what the model reads) may not be missing either."""
    cancellations = ("cancellation_rate", "lines_per_order", "units_per_line")
    optional = [c for c in columns if c not in required]
    return [
        *rule("{column} is not a finite number", required, finite_number, ignore_na=False),
        *rule("{column} is not a finite number", optional, finite_number),
        *rule("negative {column}", columns, lambda c: c.numbers >= -ROUNDING),
        *rule(
            "{column} below 1", [f for f in AT_LEAST_ONE if f in columns], lambda c: c.numbers >= 1
        ),
        *rule("{column} above 1", [f for f in SHARES if f in columns], lambda c: c.numbers <= 1),
        *rule(
            "cancellation_rate above the units bought per order",
            cancellations if set(cancellations) <= set(columns) else (),
            _cancellations_possible,
        ),
    ]


def summary_problems(summaries: pd.DataFrame, required: Sequence[str]) -> list[str]:
    """`row N: <reasons>` for each customer summary that breaks `summary_contract` in any of the
    FEATURES it gives, or that lacks one of `required`; none when every summary can be
    segmented."""
    if missing := [c for c in required if c not in summaries.columns]:
        return [f"every row: missing column(s) {missing}"]
    given = [c for c in FEATURES if c in summaries.columns]
    contract = summary_contract(given, required)
    found = contract_violations(contract, summaries.reset_index(drop=True))
    return [f"row {i}: {reason}" for i, reason in found.dropna().items()]


def as_of_date(lines: pd.DataFrame, as_of: str | None) -> pd.Timestamp:
    """The reference date: `as_of` if given, else the day after the last line."""
    if as_of is not None:
        return pd.Timestamp(as_of)
    return lines["timestamp"].max().normalize() + pd.Timedelta(days=1)


def customer_features(lines: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """One row per customer who bought before `as_of`, indexed by customer id, FEATURES columns.

    `lines` are clean transaction lines (canonical columns of `cleaning.clean_transactions`).
    """
    before = lines[(lines["timestamp"] < as_of) & lines["customer_id"].notna()]
    codes, customers = pd.factorize(before["customer_id"], sort=True)
    n = len(customers)
    cancel = before["cancellation"].to_numpy()
    buy = ~cancel
    days = (as_of - before["timestamp"]).dt.total_seconds().to_numpy() / 86_400

    def count(mask: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        return np.bincount(
            codes[mask], weights=None if weights is None else weights[mask], minlength=n
        )

    def distinct(mask: np.ndarray, values: pd.Series) -> np.ndarray:
        pairs = pd.DataFrame({"c": codes[mask], "v": values.to_numpy()[mask]}).drop_duplicates()
        return np.bincount(pairs["c"].to_numpy(), minlength=n).astype(float)

    orders = distinct(buy, before["invoice"])
    cancellations = distinct(cancel, before["invoice"])
    purchase_lines = count(buy).astype(float)
    units = count(buy, before["quantity"].to_numpy())
    spent = count(buy, before["amount"].to_numpy())
    monetary = count(np.ones(len(before), bool), before["amount"].to_numpy())
    recency = np.full(n, np.inf)
    np.minimum.at(recency, codes[buy], days[buy])
    tenure = np.zeros(n)
    np.maximum.at(tenure, codes[buy], days[buy])
    known_products = before["product"].notna().any()
    products = distinct(buy, before["product"]) if known_products else np.full(n, np.nan)
    safe_orders = np.maximum(orders, 1)
    features = pd.DataFrame(
        {
            "recency_days": recency,
            "frequency": orders,
            "monetary": monetary,
            "tenure_days": tenure,
            "avg_order_value": monetary / safe_orders,
            "avg_unit_price": spent / np.maximum(units, 1),
            "cancellation_rate": cancellations / safe_orders,
            "distinct_products": products,
            "lines_per_order": purchase_lines / safe_orders,
            "units_per_line": units / np.maximum(purchase_lines, 1),
            "repeat_share": 1 - products / np.maximum(purchase_lines, 1),
            "orders_per_month": orders / np.maximum(tenure / DAYS_PER_MONTH, 1),
        },
        index=pd.Index(customers.astype(str), name="customer_id"),
    )
    # A customer whose every line before as_of is a cancellation has no purchase to describe.
    return features[orders > 0]


def check_features(customers: pd.DataFrame, chosen: list[str]) -> None:
    """Stop with one line if `segment_setup.features` names a feature that is unknown or
    unknowable."""
    if unknown := [f for f in chosen if f not in FEATURES]:
        raise InputError(
            f"config.yaml: `segment_setup.features` names {unknown}; choose from {list(FEATURES)}"
        )
    if empty := [f for f in chosen if customers[f].isna().all()]:
        raise InputError(
            f"config.yaml: `segment_setup.features` has {empty}, unknown without a product: set "
            "`transactions.product` or `transactions.description`, or drop them from the list"
        )
    if customers.empty:
        raise InputError("no customer bought before `segment.as_of`: nothing to segment")


def ends_month(last: pd.Timestamp) -> bool:
    """Whether `last` falls on its month's last day (the month is whole)."""
    return (last + pd.Timedelta(days=1)).day == 1

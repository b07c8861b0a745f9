"""Section `cohort`: the customers pipeline on a retailer's export of one closed cohort, set up by
config alone, and its revenue forecast against what followed.

The export is the embedded shop's customers who first bought in its first month: 15 months of
their lines, with a customer, a date written `YYYYMMDD`, units and an amount, and no invoice,
product or country (the shape of a real export this pipeline was tried on). Its forecast of the
next three months' total is compared with what those customers spent in them, which the pipeline
never sees.
"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

from leadsift.bench.harness import Bench, Result, check, log, project_copy, quiet

HISTORY_MONTHS = 15
SHOP_CUSTOMERS = 48_000  # about 900 of them first buy in the shop's first month
EXPORT = "data/own/cohort.csv"
ROLES = {
    "transactions.raw_path": EXPORT,
    "transactions.customer_id": "customer",
    "transactions.timestamp": "date",
    "transactions.timestamp_format": "%Y%m%d",
    "transactions.quantity": "units",
    "transactions.unit_price": None,
    "transactions.amount": "amount",
    **{f"transactions.{key}": None for key in ("invoice", "cancellation_prefix", "product")},
    **{f"transactions.{key}": None for key in ("description", "country")},
    # the features a product-less export gives (docs/own-data.md)
    "segment_setup.features": ["recency_days", "frequency", "avg_order_value", "avg_unit_price",
                               "units_per_line", "orders_per_month"],
    "forecast_setup.campaigns": [],  # a retailer's own export: not the embedded shop's calendar
}  # fmt: skip


def closed_cohort(raw: pd.DataFrame) -> pd.DataFrame:
    """The lines of the customers who first bought in the export's first month, in the retailer's
    shape, with each line's `month` (not part of the export)."""
    lines = raw[raw["CustomerID"].notna()]
    time = pd.to_datetime(lines["InvoiceDate"])
    month = time.dt.to_period("M")
    first = month.groupby(lines["CustomerID"]).transform("min")
    cohort = lines[first == month.min()]
    return pd.DataFrame(
        {
            "customer": cohort["CustomerID"].astype("int64").astype(str),
            "date": time[cohort.index].dt.strftime("%Y%m%d"),
            "units": cohort["Quantity"],
            "amount": (cohort["Quantity"] * cohort["UnitPrice"]).round(2),
            "month": month[cohort.index].astype(str),
        }
    )


def run(bench: Bench) -> list[Result]:
    """The shop's first-month cohort, 15 months of it, forecast by the customers pipeline."""
    shop = project_copy(bench.workdir / "cohort_shop", {"generate_transactions.n_customers":
                                                        SHOP_CUSTOMERS})  # fmt: skip
    log(f"cohort: the embedded shop at {SHOP_CUSTOMERS:,} customers")
    quiet(["dvc", "repro", "customers_generate"], shop)
    cohort = closed_cohort(pd.read_csv(shop / "data/customers/raw/transactions.csv"))
    months = sorted(cohort["month"].unique())
    repo = project_copy(bench.workdir / "cohort", ROLES)
    (repo / EXPORT).parent.mkdir(parents=True, exist_ok=True)
    history = cohort[cohort["month"].isin(months[:HISTORY_MONTHS])]
    history.drop(columns="month").to_csv(repo / EXPORT, index=False)
    customers = history["customer"].nunique()
    log(f"cohort: {customers:,} customers, {len(history):,} lines; dvc repro customers_forecast")
    quiet(["dvc", "repro", "customers_forecast"], repo)
    forecast: dict[str, Any] = json.loads((repo / "reports/customers/forecast.json").read_text())
    total = forecast["series"]["total"]
    ahead = total["next"]
    followed = cohort.groupby("month")["amount"].sum().reindex(ahead["months"])
    actual = float(followed.sum())
    return [
        check("closed cohort: forecast total / what followed, off by",
              abs(ahead["total"] / actual - 1), forecast=round(ahead["total"], 2),
              followed=round(actual, 2), months=ahead["months"], model=total["model"],
              interval=[ahead["lower"], ahead["upper"]], customers=customers,
              lines=len(history), notes=total["notes"]),
    ]  # fmt: skip

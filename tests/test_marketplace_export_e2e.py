"""A marketplace's own export in the shape of Hotmart's public one (one purchase per row, values
as z-scores, no quantity) runs the customers pipeline end to end by config roles alone."""

from __future__ import annotations

import json

import pandas as pd

from tests.conftest import shop
from tests.repo import Repo

EXPORT = "data/own/purchases.csv"
HOTMART_ROLES = {
    "transactions.raw_path": EXPORT,
    "transactions.incoming": "data/own/purchases_later",
    "transactions.customer_id": "buyer_id",
    "transactions.timestamp": "purchase_date",
    "transactions.quantity": None,  # one purchase, one unit
    "transactions.unit_price": None,
    "transactions.amount": "purchase_value",
    "transactions.value_standardised": True,
    "transactions.invoice": "purchase_id",
    "transactions.cancellation_prefix": None,
    "transactions.product": "product_id",
    "transactions.description": None,
    "transactions.country": None,
    "transactions.producer": "producer_id",
    "transactions.affiliate": "affiliate_id",
    "transactions.commission": "affiliate_commission_percentual",
    "transactions.niche": "product_niche",
    "transactions.category": "product_category",
    "transactions.product_created": "product_creation_date",
    "transactions.device": "purchase_device",
    "transactions.origin": "purchase_origin",
    "transactions.social_origin": "is_origin_page_social_network",
    # money is unknown: the features of counts and products
    "segment_setup.features": ["recency_days", "frequency", "tenure_days", "orders_per_month",
                               "distinct_products", "repeat_share"],
    # what this test is about is the roles: a shorter study and fewer forecasters
    "segment.n_trials": 4,
    "forecast_setup.models": ["naive", "ets_seasonal", "customer_base"],
    "customers_drivers.placebo_draws": 5,
    "forecast_setup.campaigns": [],  # a shop's own export: the embedded shop's calendar is not its
}  # fmt: skip


def hotmart_export(lines: pd.DataFrame, mean: float, std: float, first_id: int) -> pd.DataFrame:
    """The embedded shop's purchases in Hotmart's columns: a buyer's purchases only (no guests,
    no refunds), one row each, its value z-scored with `mean` and `std`, a direct sale's
    affiliate the producer itself."""
    bought = lines[(lines["CustomerID"] != "") & ~lines["InvoiceNo"].str.startswith("C")]
    value = bought["Quantity"] * bought["UnitPrice"]
    direct = bought["AffiliateID"] == ""
    return pd.DataFrame(
        {
            "purchase_id": [f"HP{first_id + i:08d}" for i in range(len(bought))],
            "product_id": bought["StockCode"].to_numpy(),
            "affiliate_id": bought["AffiliateID"].where(~direct, bought["ProducerID"]).to_numpy(),
            "producer_id": bought["ProducerID"].to_numpy(),
            "buyer_id": bought["CustomerID"].to_numpy(),
            "purchase_date": bought["InvoiceDate"].to_numpy(),
            "product_creation_date": bought["ProductCreated"].to_numpy(),
            "product_category": bought["Category"].to_numpy(),
            "product_niche": bought["Niche"].to_numpy(),
            "purchase_value": ((value - mean) / std).round(6).to_numpy(),
            "affiliate_commission_percentual": bought["Commission"].to_numpy(),
            "purchase_device": bought["Device"].to_numpy(),
            "purchase_origin": bought["Origin"].to_numpy(),
            "is_origin_page_social_network": bought["SocialOrigin"].to_numpy(),
        }
    )


def test_a_hotmart_shaped_export_runs_by_roles_alone(baseline, tmp_path):
    repo = Repo.copy_of(baseline.repo, tmp_path / "hotmart")
    repo.update_params(HOTMART_ROLES)
    marketplace = shop(600, seed=5)
    values = marketplace.export["Quantity"] * marketplace.export["UnitPrice"]
    mean, std = float(values.mean()), float(values.std())
    history = hotmart_export(marketplace.export, mean, std, 0)
    (repo.path / "data/own/purchases_later").mkdir(parents=True)
    history.to_csv(repo.path / EXPORT, index=False)
    month, later = marketplace.batches[0]
    hotmart_export(later, mean, std, len(history)).to_csv(
        repo.path / f"data/own/purchases_later/{month}.csv", index=False
    )
    assert list(history.columns) == [
        "purchase_id", "product_id", "affiliate_id", "producer_id", "buyer_id", "purchase_date",
        "product_creation_date", "product_category", "product_niche", "purchase_value",
        "affiliate_commission_percentual", "purchase_device", "purchase_origin",
        "is_origin_page_social_network",
    ]  # fmt: skip
    assert (history["purchase_value"] < 0).any()  # z-scores: negative values are not bad lines
    repo.commit("a marketplace's own export")
    repo.repro()

    def read(name: str) -> dict:
        return json.loads((repo.path / "reports/customers" / name).read_text())

    data = read("data.json")
    assert data["rows_in"] == len(history) == data["rows_clean"] + data["rows_quarantined"]
    assert data["rows_quarantined"] == 0 and data["cancellation_lines"] == 0
    market = read("market.json")
    assert market["value_cvs"] == [0.25, 0.5, 1.0, 2.0][: len(market["value_cvs"])]
    producers = market["dependence"]["producer"]
    low, high = producers["revenue_range"]["top_5pct"]
    assert 0 < low <= high < 1
    assert producers["units"]["count"] == history["producer_id"].nunique()
    affiliates = history["affiliate_id"][history["affiliate_id"] != history["producer_id"]]
    assert market["dependence"]["affiliate"]["units"]["count"] == affiliates.nunique()
    drivers = read("drivers.json")
    commission = drivers["commission"]
    assert (
        drivers["products"] > 50 and commission["effect"]["lower"] < commission["effect"]["upper"]
    )
    assert "truth" not in commission  # the generator's truth is not this marketplace's
    forecast = read("forecast.json")["series"]["total"]
    assert forecast["truth"] is None and forecast["next"]["total"] > 0  # units, not z-scores
    assert len(read("segments.json")["segments"]) >= 2
    report = (repo.path / "reports/report.md").read_text()
    assert "Values are z-scores" in report
    assert read("promotion.json")["decision"] in ("promoted", "rejected")

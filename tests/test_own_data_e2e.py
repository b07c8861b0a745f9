"""A team's own data, by params alone: a lead CSV with other column names, a Yes/No target, no id,
no timestamp and fewer columns; and a retailer's transaction export with only customer, date
(YYYYMMDD integers), quantity and amount columns, some amounts zero. As a team comes to it: in the
project after its embedded build, whose champions read other columns."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from leadsift.core.io import read_yaml
from leadsift.core.profile_findings import ranking
from leadsift.customers.param_rules import MARKET_ROLES
from leadsift.leads.synth import Dirt, generate_leads
from tests.conftest import shop as customers_shop
from tests.repo import Repo

pytestmark = pytest.mark.e2e

RENAME = {
    "city": "region",
    "platform": "device",
    "utm_source": "channel",
    "referred_lead": "was_referred",
    "total_leads_dropped": "drops",
    "emi_option_clicks": "emi_clicks",
    "fee_structure_views": "fee_views",
    "payment_page_visits": "checkout_visits",
    "syllabus_downloads": "syllabus_dl",
    "brochure_downloads": "brochure_dl",
    "course_page_views": "course_views",
    "chat_clicks": "chats",
}
OWN_ROLES = {
    "leads.raw_path": "data/own/crm_export.csv",
    "leads.id": None,
    "leads.timestamp": None,
    "leads.target": "converted",
    "leads.positive_label": "Yes",
    "leads.negative_label": "No",
    "leads.categorical": ["region", "device", "channel"],
    "leads.numeric": ["was_referred", "drops"],
    "leads.non_negative": ["drops"],
    "leads.flags": ["was_referred"],
    "leads.interaction_groups": {
        "pricing": ["emi_clicks", "fee_views", "checkout_visits"],
        "content": ["syllabus_dl", "brochure_dl", "course_views"],
        "support": ["chats"],
    },
    "leads_prepare.aliases": {"region": {"bombay": "mumbai"}},
    "leads_score.input": "data/own/batches",
    "leads_monitor.labels": "data/own/labels",
    "transactions.raw_path": "data/own/sales.csv",
    "transactions.incoming": "data/own/sales_later",
    "transactions.customer_id": "member",
    "transactions.timestamp": "day",
    "transactions.timestamp_format": "%Y%m%d",
    "transactions.quantity": "units",
    "transactions.unit_price": None,
    "transactions.amount": "paid",
    "transactions.invoice": None,
    "transactions.cancellation_prefix": None,
    "transactions.product": None,
    "transactions.description": None,
    "transactions.country": None,
    **{f"transactions.{role}": None for role in MARKET_ROLES},  # not a marketplace
    "segment_setup.features": [
        "recency_days",
        "frequency",
        "avg_order_value",
        "avg_unit_price",
        "units_per_line",
        "orders_per_month",
    ],  # no product: no repeat_share
}


def retailer_export(export: pd.DataFrame) -> pd.DataFrame:
    """The embedded shop's lines as a retailer exports them: no invoice, product or country; dates
    as integers; a line's amount (zero where the price was); returns as negative units."""
    paid = (export["Quantity"] * export["UnitPrice"]).round(2)
    return pd.DataFrame(
        {
            "member": export["CustomerID"],
            "day": export["InvoiceDate"].str[:10].str.replace("-", "").astype(int),
            "units": export["Quantity"],
            "paid": paid,
        }
    )


def own_export(sample_seed: int = 3) -> pd.DataFrame:
    export, _ = generate_leads(
        4000,
        start="2024-06-01",
        days=200,
        genuine_rate=0.35,
        world_seed=11,
        sample_seed=sample_seed,
        dirt=Dirt(),
    )
    own = export[list(RENAME)].rename(columns=RENAME)
    own["converted"] = export["app_complete_flag"].map({1: "Yes", 0: "No"})
    return own.sample(frac=1.0, random_state=0)  # no meaningful order, as exports often are


def assert_profiles_follow_the_roles(repo: Repo, own: pd.DataFrame, sales: pd.DataFrame) -> None:
    profile = json.loads((repo.path / "reports/profile/leads.json").read_text())
    assert profile["table"]["rows"] == len(own)
    assert profile["columns"]["region"]["role"] == "leads.categorical"
    assert profile["target"]["rate"] == pytest.approx((own["converted"] == "Yes").mean())
    assert "pricing (total)" in [name for name, *_ in ranking(profile)]
    sales_profile = json.loads((repo.path / "reports/profile/transactions.json").read_text())
    assert sales_profile["table"]["rows"] == len(sales)
    assert sales_profile["columns"]["day"]["unparseable"] == 0  # YYYYMMDD, by timestamp_format


def assert_the_embedded_champions_give_way(repo: Repo) -> None:
    """The embedded build's champions cannot read these data: the first models on them replace
    them, and say why."""
    for report, why in [
        ("reports/promotion.json", "it reads column(s) city, platform"),
        ("reports/customers/promotion.json", "it needs column(s) repeat_share, which"),
    ]:
        promotion = json.loads((repo.path / report).read_text())
        assert (promotion["decision"], promotion["champion_before"]) == ("promoted", "1")
        assert why in promotion["reasons"][-1] and promotion["comparison"] is None


def assert_not_a_marketplace(repo: Repo) -> None:
    """No sellers to measure, no products to model, and said so."""
    market = json.loads((repo.path / "reports/customers/market.json").read_text())
    assert market["dependence"] == {} and market["movers"] == []
    drivers = json.loads((repo.path / "reports/customers/drivers.json").read_text())
    assert drivers["commission"] is None and drivers["note"].startswith("no products")


def write_sales(repo: Repo) -> tuple[object, pd.DataFrame]:
    """The retailer's export and one later month, in its own shape."""
    shop = customers_shop()
    sales = retailer_export(shop.export)
    sales.to_csv(repo.path / "data/own/sales.csv", index=False)
    (repo.path / "data/own/sales_later").mkdir()
    retailer_export(shop.batches[0][1]).to_csv(
        repo.path / "data/own/sales_later/2026-01.csv", index=False
    )
    return shop, sales


def test_whole_pipeline_runs_on_a_differently_shaped_csv(baseline, tmp_path):
    repo = Repo.copy_of(baseline.repo, tmp_path / "own")
    repo.update_params(OWN_ROLES)
    (repo.path / "data/own").mkdir(parents=True)
    own = own_export()
    own.to_csv(repo.path / "data/own/crm_export.csv", index=False)
    # A later batch to score (no target) and, separately, its labels by the batch's row number.
    later = own_export(sample_seed=4).head(500)
    for folder in ("batches", "labels"):
        (repo.path / "data/own" / folder).mkdir()
    later.drop(columns="converted").to_csv(repo.path / "data/own/batches/2025-01.csv", index=False)
    labels = later[["converted"]].assign(row_number=range(1, len(later) + 1))
    labels.to_csv(repo.path / "data/own/labels/2025-01.csv", index=False)
    shop, sales = write_sales(repo)
    # The common slip: `Yes` unquoted, a boolean to YAML 1.1 (PyYAML), a string to DVC and leadsift.
    setup = (
        (repo.path / "config.yaml")
        .read_text()
        .replace("positive_label: 'Yes'", "positive_label: Yes")
    )
    assert "positive_label: Yes\n" in setup
    (repo.path / "config.yaml").write_text(setup)
    repo.commit("own data")
    repo.repro()

    data = json.loads((repo.path / "reports/data.json").read_text())
    assert data["rows_in"] == len(own)
    assert data["rows_in"] == data["rows_clean"] + data["rows_duplicate"] + data["rows_quarantined"]
    split = json.loads((repo.path / "reports/split.json").read_text())
    assert split["method"] == "stratified"
    lock = read_yaml(repo.path / "dvc.lock")  # with YAML 1.2, as DVC wrote it
    assert (
        lock["stages"]["leads_prepare"]["params"]["config.yaml"]["leads"]["positive_label"] == "Yes"
    )
    metrics = json.loads((repo.path / "reports/evaluation.json").read_text())
    assert metrics["test"]["roc_auc"] == pytest.approx(0.8187, abs=0.003)  # deterministic build
    assert "bayes_roc_auc" not in metrics["test"]  # the truth file is for the embedded data only
    assert (repo.path / "reports/plots/roc_bayes.csv").read_text().strip() == "fpr,tpr,threshold"
    clean = pd.read_parquet(repo.path / "data/interim/leads.parquet")
    assert "row_number" in clean.columns and set(clean["converted"]) == {0, 1}
    drift = json.loads((repo.path / "reports/drift.json").read_text())
    assert drift["batches"]["2025-01"]["labels"]["rows"] == drift["batches"]["2025-01"]["rows"]
    assert drift["batches"]["2025-01"]["labels"]["roc_auc"] == pytest.approx(0.7932, abs=0.005)
    assert set(drift["batches"]["2025-01"]["features"]) >= {"region", "pricing_total"}
    signature = (repo.path / "models/model/MLmodel").read_text()
    assert '"name": "region"' in signature and '"name": "city"' not in signature
    assert_the_embedded_champions_give_way(repo)

    assert_profiles_follow_the_roles(repo, own, sales)
    # The transactions: every line accounted for, zero amounts quarantined, no truth to compare.
    sales_data = json.loads((repo.path / "reports/customers/data.json").read_text())
    assert sales_data["rows_in"] == len(sales)
    assert sales_data["quarantine_reasons"]["zero amount"] == (sales["paid"] == 0).sum()
    segments = json.loads((repo.path / "reports/customers/segments.json").read_text())
    assert segments["truth"] is None and len(segments["segments"]) >= 2
    headline = json.loads((repo.path / "reports/metrics.json").read_text())
    assert "ari_share" not in headline and headline["segments"] == len(segments["segments"])
    forecast = json.loads((repo.path / "reports/customers/forecast.json").read_text())
    assert forecast["series"]["total"]["truth"] is None  # the generator's truth is not this shop's
    assert headline["forecast_next"] == round(forecast["series"]["total"]["next"]["total"])
    assert_not_a_marketplace(repo)
    assigned = json.loads((repo.path / "reports/customers/assign.json").read_text())["months"]
    assert assigned["2026-01"]["rows_in"] == len(shop.batches[0][1])

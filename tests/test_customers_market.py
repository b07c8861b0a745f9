"""The marketplace: the generator's market, its roles in cleaning, dependence and trends, the
product table and the causal estimate (pure functions, no files)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression

from leadsift.core import causal
from leadsift.customers import drivers, market
from leadsift.customers.cleaning import clean_transactions
from leadsift.customers.schema import TransactionRoles
from tests.conftest import shop

MARKET = {
    "producer": "ProducerID",
    "affiliate": "AffiliateID",
    "commission": "Commission",
    "niche": "Niche",
    "category": "Category",
    "product_created": "ProductCreated",
    "device": "Device",
    "origin": "Origin",
    "social_origin": "SocialOrigin",
}
RETAIL = {
    "customer_id": "CustomerID",
    "timestamp": "InvoiceDate",
    "quantity": "Quantity",
    "unit_price": "UnitPrice",
    "invoice": "InvoiceNo",
    "cancellation_prefix": "C",
    "product": "StockCode",
}


@pytest.fixture(scope="module")
def marketplace():
    return shop(2000)


def test_the_market_keeps_every_other_column_and_each_customers_product(marketplace):
    export = marketplace.export
    assert set(MARKET.values()) <= set(export.columns)
    bought = export[export["CustomerID"] != ""]
    point = bought["StockCode"].str.split("-").str[0]
    # a customer buys one product per price point (renews the same subscription)
    assert bought.groupby([bought["CustomerID"], point])["StockCode"].nunique().max() == 1
    # direct sales have no affiliate; the higher the commission, the more affiliate sales
    through = export["AffiliateID"].ne("")
    high = export["Commission"] >= export["Commission"].median()
    assert through[high].mean() > through[~high].mean() + 0.1
    # the confounder: bigger producers set higher commissions
    products = export.drop_duplicates("StockCode")
    size = products.groupby("ProducerID")["StockCode"].transform("size")
    assert np.corrcoef(np.log(size), products["Commission"])[0, 1] > 0.3


def test_the_market_draws_apart_from_the_shop():
    one, other = shop(600), shop(600)
    columns = ["InvoiceNo", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID"]
    pd.testing.assert_frame_equal(one.export[columns], other.export[columns])
    assert one.market["commission_effect"].iloc[0] == pytest.approx(0.03)


def test_marketplace_roles_are_cleaned_and_checked():
    raw = pd.DataFrame(
        {
            "CustomerID": ["1", "1", "2", "3"],
            "InvoiceDate": ["2025-01-01"] * 4,
            "Quantity": ["1"] * 4,
            "UnitPrice": ["10"] * 4,
            "InvoiceNo": ["a", "b", "c", "d"],
            "StockCode": ["x", "y", "x", "z"],
            "ProducerID": ["P1", "P1", "P2", "P2"],
            "AffiliateID": ["P1", "A7", "", "A7"],  # the producer itself: a direct sale
            "Commission": ["20", "35", "120", "abc"],
            "Niche": ["data"] * 4,
            "Category": ["course"] * 4,
            "ProductCreated": ["2024-01-01", "2024-02-01", "never", "2024-03-01"],
            "Device": ["smartphone"] * 4,
            "Origin": ["social"] * 4,
            "SocialOrigin": ["1", "false", "TRUE", "0"],
        }
    )
    roles = TransactionRoles.from_params({**RETAIL, **MARKET})
    result = clean_transactions(raw, roles, source="sales.csv")
    clean = result.clean.set_index("invoice")
    assert clean["affiliate"].isna()["a"] and clean.loc["b", "affiliate"] == "A7"
    assert clean["social_origin"].tolist() == [True, False]
    reasons = result.quarantine.set_index("InvoiceNo")["reason"]
    assert (
        "Commission outside 0 to 100" in reasons["c"]
        and "unparseable ProductCreated" in reasons["c"]
    )
    assert "non-numeric Commission" in reasons["d"]
    assert (
        result.counts["rows_in"] == result.counts["rows_clean"] + result.counts["rows_quarantined"]
    )


def sales(units: dict[str, float], price: float = 1.0) -> pd.DataFrame:
    n = len(units)
    return pd.DataFrame(
        {
            "producer": list(units),
            "product": [f"{p}-1" for p in units],
            "affiliate": pd.Series([pd.NA] * n, dtype="string"),
            "quantity": list(units.values()),
            "unit_price": price,
            "amount": [u * price for u in units.values()],
            "cancellation": False,
        }
    )


def test_dependence_is_exact_on_a_known_market():
    lines = sales({f"P{i:03d}": 1.0 for i in range(99)} | {"BIG": 101.0})
    producers = market.dependence(lines, None)["producer"]
    assert producers["units"]["top_1pct"] == pytest.approx(101 / 200)
    assert producers["at_risk"]["units"]["top_5"] == pytest.approx(105 / 200)
    assert producers["case_definition"]["producers"] == 1
    assert "affiliate" not in market.dependence(lines, None)  # no affiliate sales
    equal = market.dependence(sales({f"P{i}": 3.0 for i in range(8)}), None)["producer"]
    assert equal["units"]["hhi"] == pytest.approx(10_000 / 8) and equal["units"]["gini"] == 0


def test_z_scored_values_give_revenue_as_a_range_and_units_exactly():
    lines = sales({"A": 10.0, "B": 10.0, "C": 10.0})
    lines["value_z"] = [-1.0, 0.0, 1.0]  # z-scores: A's are the cheapest
    cvs = market.valid_cvs(lines, [0.25, 0.5, 2.0])
    assert cvs == [0.25, 0.5]  # at cv 2, A's purchases would be worth less than nothing
    producers = market.dependence(lines, cvs)["producer"]
    low, high = producers["revenue_range"]["top_1pct"]
    assert (low, high) == pytest.approx((1.25 / 3, 1.5 / 3))
    assert producers["units"]["top_1pct"] == pytest.approx(1 / 3)


def test_a_moving_share_is_named_and_a_steady_one_is_not():
    months = pd.period_range("2024-01", periods=24, freq="M")
    rows = []
    for i, month in enumerate(months):
        steady = 300 + 10 * (i % 2)
        rows += [(month, "rising", 100 + 11 * i), (month, "falling", 900 - 11 * i - steady),
                 (month, "steady", steady)]  # fmt: skip
    table = pd.DataFrame(rows, columns=["month", "value", "units"]).assign(
        revenue=0.0, dimension="niche"
    )
    found = market.trends(table, alpha=0.01).set_index("value")
    assert found.loc[["rising", "falling"], "significant"].all()
    assert not found.loc["steady", "significant"]
    named = market.movers(found.reset_index())  # the dimension's largest move, either way
    assert len(named) == 1 and named[0]["direction"] == named[0]["value"]


def confounded(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Outcome y = 0.5 d + 2 z + noise, treatment d = 3 z + noise: the naive slope is biased."""
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, 2))
    d = 3 * z[:, 0] + rng.normal(size=n)
    y = 0.5 * d + 2 * z[:, 0] + z[:, 1] + rng.normal(size=n)
    return y, d, z


def test_double_machine_learning_recovers_a_confounded_effect():
    y, d, x = confounded(2000, seed=1)
    effect = causal.partialling_out(y, d, x, LinearRegression(), seed=0)
    naive = causal.naive_slope(y, d)
    assert effect.covers(0.5) and abs(effect.estimate - 0.5) < 0.05
    assert not naive.covers(0.5) and naive.estimate > 1.0
    placebo = causal.placebo(y, d, x, LinearRegression(), draws=40, seed=0)
    assert placebo.effect.covers(0.0) and placebo.coverage >= 0.85


def test_the_product_table_knows_only_the_past_and_counts_the_future():
    day = pd.Timestamp("2025-01-01")
    lines = pd.DataFrame(
        {
            "product": ["x", "x", "y", "x", "z"],
            "timestamp": [day - pd.Timedelta(days=40), day - pd.Timedelta(days=5), day,
                          day + pd.Timedelta(days=10), day + pd.Timedelta(days=20)],
            "quantity": [2, 1, 4, 3, 1],
            "unit_price": [10.0, 12.0, 10.0, 99.0, 10.0],  # a later price is not known at the date
            "value_z": np.nan,
            "cancellation": False,
            "producer": ["P", "P", "P", "P", "Q"],
            "affiliate": pd.Series(["A", pd.NA, pd.NA, "A", pd.NA], dtype="string"),
            "commission": 30.0,
            "niche": "data",
            "category": "course",
            "product_created": pd.NaT,
            "device": "smartphone",
            "social_origin": pd.array([True, False, False, True, False], dtype="boolean"),
        }
    )  # fmt: skip
    table = drivers.product_table(lines, day, day + pd.DateOffset(months=1)).set_index("product")
    assert list(table.index) == ["x"]  # y and z were first sold on or after the date
    assert table.loc["x", "units"] == 3 and table.loc["x", "age_days"] == 40
    assert table.loc["x", "affiliate_share"] == pytest.approx(2 / 3)  # of units before the date
    assert table.loc["x", "price"] == 11.0 and table.loc["x", "producer_products"] == 1
    period = (lines["timestamp"], day, day + pd.Timedelta(days=20))
    assert drivers.unfit_reason(table, *period).startswith("every product has the same commission")
    two = pd.concat([table, table.assign(commission=20.0).rename(index={"x": "w"})])
    assert drivers.unfit_reason(two, *period).startswith("2 products, fewer than 50")

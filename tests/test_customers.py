"""The customers pipeline's library: generator and truth, cleaning, features, segmentation,
names, revenue concentration, and the gate's comparison."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from leadsift.core.config import read_params
from leadsift.core.gate import ChampionCannotScoreError
from leadsift.core.io import InputError
from leadsift.core.model_store import load_model, save_model
from leadsift.customers import monitoring, segment_summary, synth, synth_truth, synth_world
from leadsift.customers.cleaning import clean_transactions
from leadsift.customers.features import FEATURES, customer_features
from leadsift.customers.report import stability_line
from leadsift.customers.schema import TransactionRoles
from leadsift.customers.segmentation import (
    TRUSTED_TYPES,
    Segmenter,
    champion_comparison,
    neutral_space,
)
from leadsift.customers.tuning import stability
from tests.conftest import ROOT, shop

PARAMS = read_params(ROOT)
ROLES = TransactionRoles.from_params(PARAMS["transactions"])


def test_the_generator_is_seeded_and_keeps_its_truth_apart(small):
    again = shop()
    pd.testing.assert_frame_equal(small.export, again.export)
    assert list(small.export.columns) == synth.EXPORT_COLUMNS
    assert "segment" not in small.export.columns
    assert set(small.truth["segment"]) == set(PARAMS["generate_transactions_setup"]["segments"])
    assert [name for name, _ in small.batches] == ["2026-01", "2026-02"]
    assert (
        small.export["InvoiceDate"].max() < "2026-01-01" <= small.batches[0][1]["InvoiceDate"].min()
    )


def test_the_export_has_the_dirt_a_shop_export_has(small):
    export = small.export
    assert export["InvoiceNo"].str.startswith("C").mean() > 0.01
    assert (export.loc[export["InvoiceNo"].str.startswith("C"), "Quantity"] < 0).all()
    assert 0.04 < export["CustomerID"].eq("").mean() < 0.12  # guests
    assert export.duplicated().sum() > 0 and (export["UnitPrice"] <= 0).sum() > 0
    assert export["Quantity"].max() >= 200  # wholesale
    assert export["Description"].str.contains("(online)", regex=False).any()


def test_the_bayes_assignment_beats_chance_but_segments_overlap(small):
    ceiling = adjusted_rand_score(small.truth["segment"], small.truth["bayes_segment"])
    assert 0.8 < ceiling < 0.995
    assert small.truth["bayes_probability"].between(0.2, 1.0).all()
    confident = small.truth["bayes_probability"] > 0.99
    assert (small.truth["segment"] == small.truth["bayes_segment"])[confident].mean() > 0.98


def test_the_truths_forecasts_agree_with_what_is_drawn():
    """Over many shops, the expectation from no history matches the realised net revenue, and
    each origin's forecasts (which use the shop's history then) average to it: the law of total
    expectation, which a wrong posterior, survival or arrival term would break."""
    realised, forecasts = [], []
    for seed in range(1, 13):
        drawn = shop(2000, seed=seed)
        export = drawn.export[~drawn.export["InvoiceNo"].str.startswith("9")]  # no wholesale
        valid = export["UnitPrice"] > 0
        months = export["InvoiceDate"].str[:7]
        realised.append(
            (export["Quantity"] * export["UnitPrice"])[valid].groupby(months[valid]).sum()
        )
        truth = drawn.expected.set_index(["origin", "month"])
        forecasts.append(truth["expected_revenue"])
        # Learning of the campaign of the last months before as_of only when it begins (its
        # first month, 2025-09, in the history) changes only what it brings, and only before.
        seen, told = truth["expected_from_history"], truth["expected_revenue"]
        assert seen["2025-09":].equals(told["2025-09":])  # from the campaign's first month on
        for origin in ("2024-06", "2025-08"):
            assert (seen[origin]["2025-09":] < told[origin]["2025-09":]).all()
            assert seen[origin][:"2025-08"].equals(told[origin][:"2025-08"])
    by_shop = pd.concat(forecasts, axis=1)
    blind = by_shop.xs("2023-06").iloc[:, 0]  # before the first month: the same for every shop
    ratio = pd.concat(realised, axis=1).mean(axis=1) / blind
    assert (ratio - 1).abs().median() < 0.02 and (ratio - 1).abs().max() < 0.07
    for origin in ("2024-06", "2025-03", "2025-09"):
        from_state = by_shop.xs(origin)
        assert (from_state.std(axis=1) > 0.01 * from_state.mean(axis=1)).all()  # uses the state
        gap = from_state.mean(axis=1) / blind[from_state.index] - 1
        assert gap.abs().max() < 0.05


def test_the_truths_forecasts_use_only_what_the_history_shows():
    """The expected revenue is the Bayes forecast: every latent fact of the customers (segment,
    rate, product mix, end of activity) can change without changing it, as long as their orders
    stay the same; their orders cannot."""
    settings = PARAMS["generate_transactions_setup"]
    segments = [synth_world.Segment.from_params(n, e) for n, e in settings["segments"].items()]
    world = synth_world.build_world(
        settings["world_seed"], settings["start"], settings["months"], 2
    )
    options = {"recent_months": settings["recent_months"], "mix_concentration": 4.0}
    population = synth.draw_population(500, segments, world=world, seed=5, **options)

    def truth(drawn: synth_world.Population) -> pd.DataFrame:
        return synth_truth.expected_revenue(
            drawn, segments, world, n_customers=500, guest_share=0.08, **options
        )

    latent = ["segment", "rate", "death", *(f"mix_{c}" for c in synth_world.CATEGORIES)]
    rng = np.random.default_rng(0)
    customers = population.customers.copy()
    customers[latent] = customers[latent].to_numpy()[rng.permutation(len(customers))]
    shuffled = synth_world.Population(customers, population.orders, population.lines)
    expected = truth(population)
    pd.testing.assert_frame_equal(truth(shuffled), expected)
    orders = population.orders
    first = orders["day"].eq(customers["birth"].to_numpy()[orders["customer"].to_numpy()])
    kept = first.to_numpy() | (np.arange(len(orders)) % 2 == 0)  # every other repeat, gone
    renumber = np.cumsum(kept) - 1
    lines = population.lines[kept[population.lines["order"].to_numpy()]].copy()
    lines["order"] = renumber[lines["order"].to_numpy()]
    fewer = synth_world.Population(customers, orders[kept].reset_index(drop=True), lines)
    assert (truth(fewer)["expected_revenue"] < expected["expected_revenue"]).mean() > 0.9


def test_cleaning_accounts_for_every_line_and_matches_cancellations(small, cleaned):
    counts = cleaned.counts
    assert counts["rows_in"] == len(small.export)
    assert (
        counts["rows_in"]
        == counts["rows_clean"] + counts["rows_duplicate"] + counts["rows_quarantined"]
    )
    clean = cleaned.clean
    cancellations = clean[clean["cancellation"]]
    assert cancellations["cancels_invoice"].notna().all() and len(cancellations) > 0
    bought = clean[~clean["cancellation"]].set_index(["invoice", "product"])
    pairs = list(zip(cancellations["cancels_invoice"], cancellations["product"], strict=True))
    assert all(pair in bought.index for pair in pairs)


def test_dates_as_integers_and_line_amounts_need_only_params():
    """A retailer's export: customer, YYYYMMDD dates, quantity and a line amount (zero: flagged)."""
    raw = pd.DataFrame(
        {
            "cust": ["a", "a", "b", "b", "c", "c"],
            "day": [20250105, 20250210, 20250301, 20250302, 20250401, 20250402],
            "qty": [1, 2, 1, -1, 3, 1],
            "value": [10.0, 30.0, 5.0, 5.0, 9.0, 0.0],
        }
    )
    roles = TransactionRoles.from_params(
        {
            "customer_id": "cust",
            "timestamp": "day",
            "timestamp_format": "%Y%m%d",
            "quantity": "qty",
            "amount": "value",
        }
    )
    result = clean_transactions(raw.astype(str), roles, source="shop.csv")
    assert result.quarantine["reason"].tolist() == ["zero amount"]
    b = result.clean[result.clean["customer_id"] == "b"]
    assert b["amount"].tolist() == [5.0, -5.0]  # a return: its amount takes the quantity's sign
    assert b["cancellation"].tolist() == [False, True] and b["cancels_invoice"].notna().iloc[1]
    features = customer_features(result.clean, pd.Timestamp("2025-05-01"))
    assert features.loc["a", "monetary"] == 40.0 and features.loc["a", "frequency"] == 2
    assert features.loc["b", "monetary"] == 0.0 and features.loc["b", "cancellation_rate"] == 1.0


@pytest.mark.parametrize(
    ("invoice", "rule", "kept"),
    [
        (False, "auto", 3),  # no invoice: two single items bought at one price on one day
        (True, "auto", 2),  # one invoice cannot hold the same line twice: the export repeated it
        (False, "drop", 2),
        (True, "keep", 3),
    ],
)
def test_identical_lines_are_purchases_without_an_invoice_and_repeats_with_one(invoice, rule, kept):
    raw = pd.DataFrame(
        {
            "cust": ["a", "a", "a"],
            "day": ["20250105", "20250105", "20250106"],
            "qty": ["1", "1", "1"],
            "value": ["9.5", "9.5", "9.5"],
            "order": ["7", "7", "8"],
        }
    )
    roles = TransactionRoles.from_params(
        {"customer_id": "cust", "timestamp": "day", "timestamp_format": "%Y%m%d",
         "quantity": "qty", "amount": "value", "identical_lines": rule}
        | ({"invoice": "order"} if invoice else {})
    )  # fmt: skip
    result = clean_transactions(raw, roles, source="shop.csv")
    assert (result.counts["rows_clean"], result.counts["rows_duplicate"]) == (kept, 3 - kept)
    assert result.clean["amount"].sum() == 9.5 * kept
    assert ("kept as separate purchases" in roles.identical_lines_rule) == (kept == 3)
    assert rule in roles.identical_lines_rule


def test_an_unknown_identical_lines_rule_names_the_key_and_the_choices():
    with pytest.raises(InputError, match=r"transactions.identical_lines.*auto, keep, drop"):
        TransactionRoles.from_params(
            {"customer_id": "c", "timestamp": "t", "quantity": "q", "amount": "a",
             "identical_lines": "merge"}
        )  # fmt: skip


def test_features_of_a_handmade_history():
    lines = pd.DataFrame(
        {
            "customer_id": ["x", "x", "x", "x", "y", None],
            "invoice": ["1", "1", "2", "C3", "4", "5"],
            "timestamp": pd.to_datetime(
                ["2025-01-01", "2025-01-01", "2025-01-31", "2025-02-02", "2025-02-20", "2025-02-21"]
            ),
            "product": ["P", "Q", "P", "P", "R", "R"],
            "quantity": [1.0, 2.0, 1.0, -1.0, 4.0, 1.0],
            "amount": [10.0, 20.0, 10.0, -10.0, 8.0, 2.0],
            "cancellation": [False, False, False, True, False, False],
        }
    )
    features = customer_features(lines, pd.Timestamp("2025-03-02"))
    x = features.loc["x"]
    assert list(features.columns) == list(FEATURES) and list(features.index) == ["x", "y"]
    assert (x["frequency"], x["monetary"], x["avg_order_value"]) == (2, 30.0, 15.0)
    assert (x["recency_days"], x["tenure_days"]) == (30.0, 60.0)
    assert (x["cancellation_rate"], x["distinct_products"], x["lines_per_order"]) == (0.5, 2, 1.5)
    assert x["units_per_line"] == pytest.approx(4 / 3) and x["repeat_share"] == pytest.approx(1 / 3)
    assert x["avg_unit_price"] == pytest.approx(40 / 4)
    assert features.loc["y", "orders_per_month"] == 1.0  # tenure under a month counts as one


@pytest.mark.parametrize("family", ["kmeans", "gaussian_mixture"])
def test_segment_numbers_follow_the_profile_not_the_fit(customers, family):
    features = PARAMS["segment_setup"]["features"]
    first = Segmenter(features=features, family=family, n_segments=4, seed=0).fit(customers)
    shuffled = customers.sample(frac=1.0, random_state=3)
    second = Segmenter(features=features, family=family, n_segments=4, seed=7).fit(shuffled)
    agree = first.predict(customers) == second.predict(customers)
    assert agree.mean() > 0.95  # other seeds and order, same numbers for the same customers
    monetary = customers.groupby(first.predict(customers))["monetary"].median()
    assert monetary.is_monotonic_decreasing  # 1 = the most valuable


def test_a_saved_segmentation_loads_only_its_trusted_types(customers, tmp_path):
    model = Segmenter(features=PARAMS["segment_setup"]["features"], n_segments=3, seed=0).fit(
        customers
    )
    save_model(model, tmp_path / "m", customers.head(5), TRUSTED_TYPES, predict_fn="predict")
    loaded = load_model(tmp_path / "m", TRUSTED_TYPES)
    np.testing.assert_array_equal(loaded.predict(customers), model.predict(customers))
    with pytest.raises(Exception, match="Untrusted types"):
        load_model(tmp_path / "m", [])


def test_a_champion_whose_features_have_no_values_cannot_be_compared(customers, tmp_path):
    """A shop's own export without a product column leaves repeat_share empty: a champion
    segmenting by it cannot answer, so the gate has nothing to compare it with."""
    features = PARAMS["segment_setup"]["features"]
    champion = Segmenter(features=features, n_segments=3, seed=0).fit(customers)
    save_model(champion, tmp_path / "m", customers.head(5), TRUSTED_TYPES, predict_fn="predict")
    own = customers.assign(repeat_share=np.nan)
    others = [f for f in features if f != "repeat_share"]
    model = Segmenter(features=others, n_segments=3, seed=0).fit(own)
    gate = {"n_bootstrap": 20, "confidence": 0.9, "seed": 0}
    compare = champion_comparison(model, own, neutral_space(own, others), gate)
    lack = f"it needs column(s) repeat_share, which {len(own):,} of the {len(own):,} current rows"
    with pytest.raises(ChampionCannotScoreError, match=re.escape(lack)):
        compare(str(tmp_path / "m"))
    same = champion_comparison(model, customers, neutral_space(customers, others), gate)
    assert same(str(tmp_path / "m")).confidence == 0.9  # with the values, it compares


def test_stability_is_high_for_well_separated_segments(customers):
    model = Segmenter(features=PARAMS["segment_setup"]["features"], n_segments=3, seed=0).fit(
        customers
    )
    result = stability(model, customers, refits=2, seed=0)
    assert result["refits"] == 2 and 0.8 < result["min_ari"] <= result["mean_ari"] <= 1
    assert stability_line(result, 0.8).startswith("Refitted on 2 bootstrap")


def test_segments_of_customers_without_groups_are_called_unstable_plainly(customers):
    """Customers whose features are shuffled each on its own: no groups, so any split of them
    moves from refit to refit."""
    rng = np.random.default_rng(0)
    features = PARAMS["segment_setup"]["features"]
    blob = customers.assign(cancellation_rate=0.0)  # each column below shuffled on its own
    for feature in features:
        blob[feature] = rng.permutation(blob[feature].to_numpy())
    model = Segmenter(features=features, n_segments=6, seed=0)
    result = stability(model.fit(blob), blob, refits=5, seed=0)
    assert result["mean_ari"] < 0.7
    assert stability_line(result, 0.8).startswith("**These segments are not stable**")
    assert "customers_register.min_stability" in stability_line(result, 0.8)


def test_every_rfm_score_pair_has_a_name():
    names = {segment_summary.rfm_name(r, fm) for r in range(1, 6) for fm in range(1, 6)}
    assert names <= {name for name, *_ in segment_summary.RFM_NAMES}
    assert (
        segment_summary.rfm_name(5, 5) == "Champions" and segment_summary.rfm_name(1, 1) == "Lost"
    )
    assert (
        segment_summary.rfm_name(5, 1) == "New"
        and segment_summary.rfm_name(1, 5) == "Can't Lose Them"
    )


def test_segment_names_are_distinct(customers):
    model = Segmenter(features=PARAMS["segment_setup"]["features"], n_segments=5, seed=0).fit(
        customers
    )
    table = segment_summary.segment_table(customers, model.predict(customers))
    names = segment_summary.segment_names(table[list(customers.columns)], customers)
    assert len(set(names.values())) == 5 and all(": " in n for n in names.values())


def test_revenue_concentration_of_known_distributions():
    equal = segment_summary.concentration(pd.Series([10.0] * 100))
    assert equal["gini"] == pytest.approx(0) and equal["top_20pct"] == pytest.approx(0.2)
    one = segment_summary.concentration(pd.Series([0.0] * 99 + [50.0]))
    assert one["top_1pct"] == 1 and one["gini"] == pytest.approx(0.99)
    curve = segment_summary.lorenz_curve(pd.Series([1.0, 1.0, 2.0]))
    assert curve.iloc[0].tolist() == [0, 0] and curve.iloc[-1].tolist() == [1, 1]


def test_agreement_needs_a_truth_for_every_customer(customers, small):
    segments = pd.Series(1, index=customers.index)
    assert segment_summary.agreement(segments, small.truth)["ari"] == pytest.approx(0)
    assert segment_summary.agreement(segments.rename(lambda i: f"own-{i}"), small.truth) is None


def test_a_closed_cohort_that_only_ages_alerts_on_nothing_but_the_calendar_features():
    """500 customers who all first bought in one month, seen at its end and again three months
    later with no purchase in between: recency, tenure and orders per month move by construction;
    how they buy does not, and the monitor says no drift, naming what it left out."""
    rng = np.random.default_rng(4)
    n_orders = rng.integers(1, 6, 500)
    owner = np.repeat(np.arange(500), n_orders)
    lines = pd.DataFrame(
        {
            "customer_id": np.char.add("c", owner.astype(str)),
            "invoice": np.arange(len(owner)).astype(str),
            "timestamp": pd.Timestamp("2025-01-01")
            + pd.to_timedelta(rng.uniform(0, 30, len(owner)), unit="D"),
            "product": rng.choice(["P", "Q", "R"], len(owner)),
            "quantity": rng.integers(1, 4, len(owner)).astype(float),
            "amount": rng.lognormal(3, 0.5, len(owner)),
            "cancellation": False,
        }
    )
    features = ["recency_days", "orders_per_month", "tenure_days", "avg_order_value"]
    then, later = (
        customer_features(lines, pd.Timestamp(day)).reset_index().assign(segment=1)
        for day in ("2025-02-01", "2025-05-01")
    )
    table = monitoring.month_drift(then, later, features, bins=10)
    settings = {"psi_alert": 0.1, "p_value": 0.01, "calendar_features": []}
    ageing = monitoring.month_alerts(table, settings)
    assert {alert.split(":")[0] for alert in ageing} == {
        "recency_days",
        "tenure_days",
        "orders_per_month",
    }
    settings["calendar_features"] = ["recency_days", "tenure_days", "orders_per_month"]
    assert monitoring.month_alerts(table, settings) == []
    report = monitoring.drift_report({"2025-05": {"alerts": [], "subjects": {}}}, settings)
    assert report["not_in_verdict"]["features"] == settings["calendar_features"]
    assert "thresholds" in report and "calendar_features" not in report["thresholds"]
    with pytest.raises(InputError, match=r"calendar_features` names recency, which are not"):
        monitoring.month_alerts(table, {**settings, "calendar_features": ["recency"]})

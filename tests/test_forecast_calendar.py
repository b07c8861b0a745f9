"""Planned campaigns as known future events: the calendar, the customer-base forecast that adds
a campaign's newcomers, the regressor of arima, and the embedded shop's calendar."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_customer_base import START, simulate

from leadsift.core.config import params_problems, read_params
from leadsift.customers.forecast import customer_base as cb
from leadsift.customers.forecast.backtest import forecast_all
from leadsift.customers.forecast.calendar import NO_CAMPAIGNS, Calendar
from leadsift.customers.forecast.models import CANDIDATES, History, Settings
from leadsift.customers.forecast.series import TOTAL, Revenue, Views
from leadsift.customers.param_rules import RULES
from leadsift.customers.synth_truth import planned_campaigns
from leadsift.customers.synth_world import CATEGORIES, Segment, build_world

ROOT = Path(__file__).resolve().parents[1]
AUTUMN = {"name": "autumn", "start": "2025-09-16", "end": "2025-11-15", "new_customers": 610}
SUMMER = {"name": "summer", "start": "2025-06-01", "end": "2025-07-31"}
WINTER = {"name": "winter", "start": "2026-02-01", "end": "2026-02-28"}


def test_a_campaign_spreads_its_newcomers_over_its_days_and_marks_its_months():
    calendar = Calendar.from_params([AUTUMN])
    months = pd.period_range("2025-08", "2025-12", freq="M")
    # 15 days in September, 31 in October, 15 in November, of 61
    assert calendar.new_customers(months) == pytest.approx([0, 150, 310, 150, 0])
    assert calendar.share(months) == pytest.approx([0, 0.5, 1, 0.5, 0])
    assert list(calendar.usual(months).astype(str)) == ["2025-08", "2025-12"]
    count, values, squares = calendar.valued(months)
    assert not count.any() and not values.any()  # no order value stated
    priced = Calendar.from_params([{**AUTUMN, "order_value": 20.0}, {**AUTUMN, "name": "b"}])
    count, values, squares = priced.valued(months)
    assert count == pytest.approx([0, 150, 310, 150, 0])
    assert values == pytest.approx(20 * count) and squares == pytest.approx(400 * count)
    assert priced.new_customers(months) == pytest.approx(2 * count)
    assert not NO_CAMPAIGNS and not Calendar.from_params([]).share(months).any()
    free = Calendar.from_params([{**AUTUMN, "order_value": 0}])  # stated, and nothing
    assert free.valued(months)[0] == pytest.approx(count) and not free.valued(months)[1].any()
    assert (
        str(priced.campaigns[0])
        == "autumn, 2025-09-16 to 2025-11-15: 610 new customers at 20.00 an order"
    )


@pytest.mark.parametrize(
    ("campaigns", "ok"),
    [
        ([], True),
        ([{**AUTUMN, "order_value": None}], True),
        ([{**AUTUMN, "end": AUTUMN["start"]}], True),  # a day long
        ([{**AUTUMN, "start": dt.date(2025, 9, 16)}], True),  # YAML's unquoted date
        ([{**AUTUMN, "end": "2025-09-01"}], False),  # ends before it starts
        ([{**AUTUMN, "end": "20250901"}], False),  # not YYYY-MM-DD
        ([{**AUTUMN, "end": dt.datetime(2025, 11, 15, 10)}], False),  # a time, not a day
        ([{**AUTUMN, "start": "2025-W38-2"}], False),
        ([{**AUTUMN, "start": "mid-September"}], False),
        ([{**AUTUMN, "new_customers": float("inf")}], False),
        ([{**AUTUMN, "new_customers": None, "order_value": 20}], False),  # a value of whom?
        ([{**AUTUMN, "new_customers": -5}], False),
        ([{**AUTUMN, "budget": 1000}], False),  # an unknown key
        ([{key: v for key, v in AUTUMN.items() if key != "name"}], False),
        ({"autumn": AUTUMN}, False),  # a list, not a mapping
    ],
)
def test_the_calendar_in_config_is_checked_before_any_work(campaigns, ok):
    params = read_params(ROOT)
    params["forecast_setup"]["campaigns"] = campaigns
    problems = params_problems(params, RULES)
    assert (problems == []) == ok, problems
    if not ok:
        assert "forecast_setup.campaigns" in problems[0]


def orders_with_a_campaign() -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """A shop's orders over 36 months with 3,000 customers arriving all along, and 900 more
    first buying in months 29 to 32 (a campaign) with orders worth a tenth of the others'."""
    usual = simulate(3000, 36, seed=5, birth_months=36)
    extra = simulate(900, 36, seed=6, born_from=29, birth_months=32, log_value=1.7, prefix="k")
    orders = pd.concat([usual, extra], ignore_index=True).sort_values("timestamp", kind="stable")
    first = START + pd.DateOffset(months=29)
    value = float(extra.groupby("customer_id")["amount"].mean().mean())
    campaign = {
        "name": "launch",
        "start": str(first.date()),
        "end": str((first + pd.DateOffset(months=3) - pd.Timedelta(days=1)).date()),
        "new_customers": 900,
        "order_value": round(value, 2),
    }
    return orders.reset_index(drop=True), extra, campaign


def test_the_customer_base_adds_the_campaigns_newcomers_at_their_stated_value():
    orders, extra, campaign = orders_with_a_campaign()
    cut = START + pd.DateOffset(months=29)  # the campaign's first day: nothing of it is seen
    year = orders[(orders["timestamp"] >= cut - pd.DateOffset(months=12))]
    year = float(year.loc[year["timestamp"] < cut, "amount"].sum())
    settings = {"bands": 2, "band_customers": 500, "newcomer_window": 3}
    calendar = Calendar.from_params([campaign])
    blind, _ = cb.forecast_revenue(orders, cut, 3, series_revenue_last_year=year, **settings)
    told, _ = cb.forecast_revenue(
        orders, cut, 3, series_revenue_last_year=year, campaigns=calendar, **settings
    )
    later = orders[orders["timestamp"] >= cut]
    actual = later.groupby(later["timestamp"].dt.to_period("M"))["amount"].sum().to_numpy()[:3]
    from_campaign = extra[extra["timestamp"] >= cut]
    added = from_campaign.groupby(from_campaign["timestamp"].dt.to_period("M"))["amount"].sum()
    # the calendar adds about what the campaign's customers spent, not newcomers at usual value
    assert (told - blind) == pytest.approx(added.to_numpy()[:3], rel=0.35)
    assert np.abs(told / actual - 1).max() < np.abs(blind / actual - 1).max()
    # unvalued, its newcomers are worth the usual newcomers': many times more
    unvalued = Calendar.from_params([{**campaign, "order_value": None}])
    dear, _ = cb.forecast_revenue(
        orders, cut, 3, series_revenue_last_year=year, campaigns=unvalued, **settings
    )
    assert (dear - blind).sum() > 3 * (told - blind).sum()


def test_the_usual_newcomers_leave_out_the_campaigns():
    """After a campaign of 900 (months 29 to 31, the last three): the window's first orders less
    its stated newcomers; with its count not stated, the latest months without a campaign."""
    orders, _, campaign = orders_with_a_campaign()
    first = pd.DatetimeIndex(orders.groupby("customer_id")["timestamp"].min())
    cut = START + pd.DateOffset(months=32)
    usual = 3000 / 36  # a month's usual first orders
    plain = cb._arrivals(first, cut, 3, 3, NO_CAMPAIGNS)
    assert plain.mean() > usual + 200  # the campaign's 300 a month taken for the usual rate
    stated = cb._arrivals(first, cut, 3, 3, Calendar.from_params([campaign]))
    assert stated == pytest.approx(plain - 300, rel=0.01)
    assert stated == pytest.approx(np.full(3, usual), rel=0.2)
    unstated = Calendar.from_params([{**campaign, "new_customers": None}])
    assert cb._arrivals(first, cut, 3, 3, unstated) == pytest.approx(np.full(3, usual), rel=0.2)
    # the customers who joined in it do not tell what a usual newcomer is like
    joined = cb._usual_newcomers(first, cut, Calendar.from_params([campaign]))
    assert joined.sum() == pytest.approx(12 * usual, rel=0.15)
    assert cb._usual_newcomers(first, cut, NO_CAMPAIGNS).sum() > joined.sum() + 800


@pytest.mark.parametrize("name", ["arima", "sarima"])
def test_arima_learns_a_campaigns_lift_once_its_history_has_one(name):
    """Log revenue 30% higher in campaign months: a regressor once one is seen, none before."""
    months = pd.period_range("2023-01", periods=36, freq="M")
    rng = np.random.default_rng(3)
    on = months.isin(pd.period_range("2025-06", "2025-07", freq="M"))
    revenue = 100_000 * np.exp(0.01 * np.arange(36) + 0.3 * on + rng.normal(0, 0.01, 36))
    settings = Settings.from_params(read_params(ROOT))
    model = CANDIDATES[name]

    def forecast(calendar: Calendar) -> np.ndarray:
        history = History(
            revenue, months, dataclasses.replace(settings, campaigns=calendar), Views()
        )
        assert list(history.ahead.astype(str)) == ["2026-01", "2026-02", "2026-03"]
        return model(history).mean

    blind = forecast(NO_CAMPAIGNS)
    lift = forecast(Calendar.from_params([SUMMER, WINTER])) / blind
    assert lift[1] == pytest.approx(np.exp(0.3), rel=0.08)  # February's campaign
    assert lift[[0, 2]] == pytest.approx(1, abs=0.06)
    # a campaign ahead with none in the history: nothing to learn its effect from
    assert np.array_equal(forecast(Calendar.from_params([WINTER])), blind)


def test_the_embedded_shops_calendar_is_the_campaign_its_generator_plans():
    """The `recent` segment's customers first buy in the last recent_months before as_of: the
    config's campaign has their dates, count and net order value, at any shop size."""
    params = read_params(ROOT)
    assert params["forecast_setup"]["campaigns"] == planned_campaigns(params)
    setup = params["generate_transactions_setup"]
    world = build_world(
        setup["world_seed"], setup["start"], setup["months"], setup["future_months"]
    )
    as_of = world.start + pd.Timedelta(days=world.history_days)
    segments = {k: Segment.from_params(k, v) for k, v in setup["segments"].items()}
    shares = {k: s.share for k, s in segments.items()}
    (recent,) = [k for k, s in segments.items() if s.recent]
    (campaign,) = planned_campaigns(params, 1500)
    assert campaign["new_customers"] == round(1500 * shares[recent] / sum(shares.values()))
    begins = as_of - pd.Timedelta(days=setup["recent_months"] * cb.DAYS_PER_MONTH)
    assert pd.Timestamp(campaign["start"]) == begins.normalize()
    assert pd.Timestamp(campaign["end"]) == as_of - pd.Timedelta(days=1)
    kind = segments[recent]
    prices = world.catalogue.groupby("category")["price"].mean().reindex(CATEGORIES)
    order = (1 + kind.lines) * (1 + kind.quantity) * (1 - kind.cancel)
    value = order * float(prices.to_numpy() @ np.array(kind.mix))
    assert campaign["order_value"] == pytest.approx(value, rel=0.01)  # rounded, as a plan is
    without = {
        **setup,
        "segments": {k: {**v, "recent": False} for k, v in setup["segments"].items()},
    }
    assert planned_campaigns({**params, "generate_transactions_setup": without}) == []


def test_only_the_total_knows_the_campaigns_as_their_customers_segments_are_not_known():
    """The same series as the total and as a segment: the total's forecast has the campaign's
    lift, the segment's is the forecast without the calendar."""
    months = pd.period_range("2023-01", periods=36, freq="M")
    on = months.isin(pd.period_range("2025-06", "2025-07", freq="M"))
    noise = np.random.default_rng(4).normal(0, 0.01, 36)
    revenue = pd.Series(100_000 * np.exp(0.01 * np.arange(36) + 0.3 * on + noise), index=months)
    table = pd.DataFrame({TOTAL: revenue, "loyal": revenue})
    calendar = Calendar.from_params([SUMMER, WINTER])
    settings = dataclasses.replace(
        Settings.from_params(read_params(ROOT)), models=("naive", "arima"), n_jobs=1
    )
    _, ahead, _ = forecast_all(
        Revenue(table), dataclasses.replace(settings, campaigns=calendar), None
    )
    _, blind, _ = forecast_all(
        Revenue(table), dataclasses.replace(settings, campaigns=NO_CAMPAIGNS), None
    )
    told = ahead.set_index(["series", "month"])["forecast"]
    plain = blind.set_index(["series", "month"])["forecast"]
    assert told[TOTAL]["2026-02"] > 1.2 * plain[TOTAL]["2026-02"]
    pd.testing.assert_series_equal(told["loyal"], plain["loyal"])

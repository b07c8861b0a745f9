"""The customer-base forecast: Pareto/NBD against data it generates, the seasonal clock, and the
forecast of a simulated shop."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from leadsift.customers.forecast import customer_base as cb
from leadsift.customers.forecast.backtest import backtest, forecast_ahead, ranking
from leadsift.customers.forecast.calendar import NO_CAMPAIGNS
from leadsift.customers.forecast.models import CANDIDATES, History, Settings
from leadsift.customers.forecast.series import Views, customer_orders

START = pd.Timestamp("2023-01-01")
TRUE = (0.8, 0.5, 0.6, 12.0)  # r, alpha, s, beta: 1.6 orders a month, lifetimes of ~20 months
SEASON = np.array([1.4, 1.1, 1.0, 0.9, 0.9, 0.8, 0.7, 0.8, 1.3, 1.1, 1.0, 1.0])


def simulate(
    n: int,
    months: float,
    *,
    params=TRUE,
    season=None,
    seed: int = 0,
    birth_months=None,
    born_from: float = 0.0,
    log_value: float = 4.0,
    prefix: str = "c",
) -> pd.DataFrame:
    """Invoices of `n` Pareto/NBD customers over `months` from START, first orders uniform from
    `born_from` to `birth_months` (default: the first two thirds), orders thinned to a calendar
    `season`, each customer's mean order value log-normal about `log_value`."""
    rng = np.random.default_rng(seed)
    r, alpha, s, beta = params
    season = np.ones(12) if season is None else season
    peak = season.max()
    births = rng.uniform(born_from, birth_months or months * 2 / 3, n)
    rates, dropouts = rng.gamma(r, 1 / alpha, n), rng.gamma(s, 1 / beta, n)
    ends = np.minimum(births + rng.exponential(1 / dropouts), months)
    values = rng.lognormal(log_value, 1, n)  # each customer's mean order value
    counts = rng.poisson(rates * peak * (ends - births))
    owner = np.repeat(np.arange(n), counts)
    times = births[owner] + rng.uniform(0, 1, owner.size) * (ends - births)[owner]
    stamps = START + pd.to_timedelta(times * cb.DAYS_PER_MONTH, unit="D")
    kept = rng.random(owner.size) < season[stamps.month - 1] / peak
    owner = np.r_[np.arange(n), owner[kept]]
    stamps = (START + pd.to_timedelta(births * cb.DAYS_PER_MONTH, unit="D")).append(stamps[kept])
    rows = {
        "customer_id": np.char.add(prefix, owner.astype(str)),
        "timestamp": stamps,
        "amount": values[owner] * rng.lognormal(0, 0.2, owner.size),
    }
    orders = pd.DataFrame(rows)
    return orders.assign(group="all", is_order=True).sort_values("timestamp", ignore_index=True)


def summary(orders: pd.DataFrame, cut: pd.Timestamp) -> np.ndarray:
    """Rows of (repeats, recency, age) in months on a plain clock."""
    c = cb.customers_before(orders, cut, bands=1, band_customers=1)
    clock = cb.SeasonalClock(c.first.min(), cut, np.ones(12))
    born = clock(c.first)
    return np.column_stack([c.repeats, clock(c.last) - born, clock([cut])[0] - born])


@pytest.fixture(scope="module")
def shop() -> pd.DataFrame:
    return simulate(3000, 36, seed=1)


def test_pareto_nbd_recovers_the_rates_it_was_drawn_with(shop):
    model = cb.ParetoNBD().fit(summary(shop, START + pd.DateOffset(months=30)))
    r, alpha, s, beta = model.params_
    assert r / alpha == pytest.approx(TRUE[0] / TRUE[1], rel=0.1)  # mean order rate
    assert s / beta == pytest.approx(TRUE[2] / TRUE[3], rel=0.3)  # mean dropout rate


def test_expected_repeats_add_up_to_what_the_customers_then_do(shop):
    cut = START + pd.DateOffset(months=24)
    rows = summary(shop, cut)
    model = cb.ParetoNBD().fit(rows)
    later = shop[(shop["timestamp"] >= cut) & (shop["timestamp"] < cut + pd.DateOffset(months=6))]
    known = later["customer_id"].isin(shop.loc[shop["timestamp"] < cut, "customer_id"])
    months = 6.0  # on the plain clock
    assert model.expected_repeats(rows, months).sum() == pytest.approx(known.sum(), rel=0.06)
    # and who has gone silent is expected to buy less than who bought last week
    expected = model.expected_repeats(rows, months)
    recent = rows[:, 2] - rows[:, 1] < 0.5
    assert expected[recent].mean() > 3 * expected[rows[:, 2] - rows[:, 1] > 12].mean()


def test_a_new_customer_repeats_as_the_population_does():
    orders = simulate(3000, 12, seed=2, birth_months=0.01)  # everyone starts on day one
    model = cb.ParetoNBD().fit(summary(orders, START + pd.DateOffset(months=12)))
    repeats = (orders.groupby("customer_id").size() - 1).mean()
    assert model.unconditional_repeats(np.array([12.0]))[0] == pytest.approx(repeats, rel=0.08)


def test_a_month_lasts_its_seasonal_multiplier_on_the_clock():
    clock = cb.SeasonalClock(START, START + pd.DateOffset(months=14), SEASON)
    edges = clock(pd.date_range(START, periods=14, freq="MS"))
    days = np.diff(pd.date_range(START, periods=14, freq="MS")).astype("timedelta64[D]").astype(int)
    assert np.diff(edges) == pytest.approx(np.r_[SEASON, SEASON[0]] * days / cb.DAYS_PER_MONTH)
    mid_january = clock([START + pd.Timedelta(days=15.5)])[0]
    assert mid_january == pytest.approx(edges[1] / 2)


def test_the_season_is_learnt_from_the_repeat_orders():
    orders = simulate(3000, 30, season=SEASON, seed=3)
    cut = START + pd.DateOffset(months=30)
    customers = cb.customers_before(orders, cut, bands=2, band_customers=500)
    learnt, _ = cb.learn_season(customers, orders, cut)
    assert np.abs(learnt - SEASON / SEASON.mean()).max() < 0.08


def test_bands_split_customers_by_order_value_and_shrink_on_small_data(shop):
    cut = START + pd.DateOffset(months=30)
    customers = cb.customers_before(shop, cut, bands=4, band_customers=100)
    assert np.bincount(customers.band).tolist() == [len(customers.band) // 4] * 4
    means = [customers.value[customers.band == b].mean() for b in range(4)]
    assert means == sorted(means)
    few = cb.customers_before(shop, cut, bands=4, band_customers=len(customers.band) // 2)
    assert few.band.max() == 1  # two bands hold the minimum, four would not


def test_the_forecast_follows_the_shop_and_scales_to_the_whole_series():
    orders = simulate(4000, 36, season=SEASON, seed=4, birth_months=36)
    cut = START + pd.DateOffset(months=30)
    year = orders[(orders["timestamp"] >= cut - pd.DateOffset(months=12))]
    year = float(year.loc[year["timestamp"] < cut, "amount"].sum())
    settings = {"bands": 2, "band_customers": 500, "newcomer_window": 3}
    found, variance = cb.forecast_revenue(orders, cut, 3, series_revenue_last_year=year, **settings)
    later = orders[orders["timestamp"] >= cut]
    actual = later.groupby(later["timestamp"].dt.to_period("M"))["amount"].sum().to_numpy()[:3]
    assert found == pytest.approx(actual, rel=0.12)
    # guests' revenue (in the series, not in any customer's history) scales it
    doubled, more = cb.forecast_revenue(
        orders, cut, 3, series_revenue_last_year=2 * year, **settings
    )
    assert doubled == pytest.approx(2 * found) and more == pytest.approx(4 * variance)
    # its spread: a month's amount varies by about the square root of its orders' squares
    assert (np.sqrt(variance) / found > 0.005).all() and (np.sqrt(variance) / found < 0.1).all()


def test_customer_orders_net_cancellations_by_invoice_and_know_their_segment():
    lines = pd.DataFrame(
        {
            "customer_id": ["a", "a", "a", None, "b"],
            "invoice": ["1", "1", "C2", "3", "4"],
            "timestamp": pd.to_datetime(
                ["2024-01-01", "2024-01-01", "2024-01-05", "2024-01-06", "2024-02-01"]
            ),
            "amount": [10.0, 5.0, -5.0, 7.0, 3.0],
            "cancellation": [False, False, True, False, False],
        }
    )
    orders = customer_orders(lines, pd.Series({"a": "loyal"}))
    assert orders["amount"].tolist() == [15.0, -5.0, 3.0]  # the guest's invoice is not here
    assert orders["is_order"].tolist() == [True, False, True]
    assert orders["group"].tolist() == ["loyal", "loyal", "unsegmented"]


def test_the_backtest_scores_the_customer_model_without_seeing_past_its_origins():
    orders = simulate(2500, 30, season=SEASON, seed=5, birth_months=30)
    series = orders.groupby(orders["timestamp"].dt.to_period("M"))["amount"].sum()
    settings = Settings(
        horizon=3,
        origins=3,
        level=0.8,
        min_interval_errors=6,
        metric="mase",
        mean_window=3,
        ridge_alpha=1.0,
        models=("naive", "customer_base"),
        fit_window=None,
        value_bands=2,
        band_customers=500,
        newcomer_window=3,
        n_jobs=1,
        campaigns=NO_CAMPAIGNS,
    )
    result = backtest(series, settings, Views(orders=orders))
    assert result.scores["customer_base"]["status"] == "ok"
    assert result.scores["customer_base"]["mase"] < result.scores["naive"]["mase"]
    months = series.index[:24]
    later = orders["timestamp"] >= months[-1].end_time
    changed = orders.assign(amount=orders["amount"].where(~later, orders["amount"] * 10))
    model, y = CANDIDATES["customer_base"], series.to_numpy()[:24]
    first = model(History.fit_on(y, months, settings, Views(orders=orders)))
    second = model(History.fit_on(y, months, settings, Views(orders=changed)))
    assert np.array_equal(first.mean, second.mean)
    # a series of no customers (the guests') has no orders: skipped, saying why
    skipped = backtest(series, settings, Views())
    assert "customers' orders" in skipped.scores["customer_base"]["why"]


def test_on_a_short_history_the_customer_model_competes_from_the_origins_it_can_fit_at():
    """A closed cohort, all acquired in its first month, 15 months long: the customer model needs
    12 months before an origin, so it is backtested from the latest of 4 only, and every model is
    ranked at the origins they share; shorter still, it runs nowhere and says what would help."""
    orders = simulate(2500, 15, seed=6, birth_months=1)
    series = orders.groupby(orders["timestamp"].dt.to_period("M"))["amount"].sum()
    settings = Settings(
        horizon=3, origins=4, level=0.8, min_interval_errors=2, metric="mase", mean_window=3,
        ridge_alpha=1.0, models=("naive", "mean", "customer_base"), fit_window=None,
        value_bands=2, band_customers=500, newcomer_window=3, n_jobs=1, campaigns=NO_CAMPAIGNS,
    )  # fmt: skip
    result = backtest(series, settings, Views(orders=orders))
    windows = range(len(series) - 6, len(series) - 2)  # months before each of the 4 origins
    fit = [str(series.index[w - 1]) for w in windows if w >= 12]
    assert 0 < len(fit) < 4
    origins = result.rows.groupby("model")["origin"].unique()
    assert list(origins["customer_base"]) == fit
    assert len(origins["naive"]) == len(origins["mean"]) == 4
    for name in settings.models:
        rows = result.rows[(result.rows["model"] == name) & result.rows["origin"].isin(fit)]
        assert result.scores[name]["shared"]["origins"] == len(fit)
        assert result.scores[name]["shared"]["mase"] == pytest.approx(
            np.mean(np.abs(rows["actual"] - rows["forecast"]) / rows["scale"])
        )
    assert ranking(result.scores, "mase")[0] == min(
        settings.models, key=lambda m: result.scores[m]["shared"]["mase"]
    )
    assert any(
        f"customer_base backtested from the latest {len(fit)} of 4 origins" in note
        for note in result.notes
    )
    assert any(f"ranked on their errors at the {len(fit)} latest" in n for n in result.notes)
    alone = dataclasses.replace(settings, models=("customer_base",), min_interval_errors=99)
    ahead, notes = forecast_ahead(
        series, backtest(series, alone, Views(orders=orders)), alone, Views(orders=orders)
    )
    assert ahead[["lower", "upper"]].isna().all().all()
    assert f"it fits at {len(fit)} of the 4 origins: a longer history does" in notes[-1]

    shorter = series.iloc[:14]  # the latest origin has 11 months before it
    skipped = backtest(shorter, settings, Views(orders=orders)).scores["customer_base"]
    assert skipped["status"] == "skipped"
    assert "needs 12 months to fit on, has 11 at the latest origin" in skipped["why"]
    assert "forecast.horizon" in skipped["why"]

"""The revenue forecast: monthly series, the candidates, the rolling-origin backtest, the truth."""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from leadsift.core.config import PARAMS_FILES, read_params
from leadsift.core.io import InputError
from leadsift.customers.forecast.backtest import backtest, describe, forecast_all, ranking
from leadsift.customers.forecast.calendar import NO_CAMPAIGNS
from leadsift.customers.forecast.models import CANDIDATES, History, Settings
from leadsift.customers.forecast.series import (
    TOTAL,
    Revenue,
    Views,
    monthly_revenue,
    require_history,
    weekly_revenue,
)
from leadsift.customers.forecast.truth import generator_truth
from leadsift.customers.param_rules import FORECASTERS

ROOT = Path(__file__).resolve().parents[1]
# the shop's calendar is not these series': no planned campaigns
SETTINGS = dataclasses.replace(Settings.from_params(read_params(ROOT)), campaigns=NO_CAMPAIGNS)
SEASON = np.array([1.5, 1.0, 1.0, 0.95, 0.95, 0.9, 0.9, 1.0, 1.4, 1.1, 1.05, 1.0])


def monthly(values, start: str = "2023-07") -> pd.Series:
    return pd.Series(values, index=pd.period_range(start, periods=len(values), freq="M"))


def seasonal_growth(
    months: int, seed: int = 0, noise: float = 0.02
) -> tuple[pd.Series, pd.DataFrame]:
    """Revenue growing 3% a month with a January and September peak, and its expectation from
    every origin (by origin and month; the same from each, as nothing here has a state)."""
    t = np.arange(months + 3)
    expected = 100_000 * np.exp(0.03 * t) * SEASON[(t + 6) % 12]  # starts in July
    rng = np.random.default_rng(seed)
    actual = expected[:months] * np.exp(rng.normal(0, noise, months))
    labels = monthly(expected).index.astype(str)
    pairs = [
        (o, m, v)
        for i, o in enumerate(labels)
        for m, v in zip(labels[i + 1 :], expected[i + 1 :], strict=True)
    ]
    truth = pd.DataFrame(pairs, columns=["origin", "month", "expected_revenue"])
    return monthly(actual), truth.set_index(["origin", "month"])


def forecast_one(
    series: pd.Series,
    settings: Settings,
    expected: pd.DataFrame | None = None,
    weeks: pd.Series | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """`forecast_all` of a shop whose only series is `series` (and its `weeks`), as its total:
    the backtest rows, the forecast and the summary."""
    weekly = None if weeks is None else weeks.to_frame(TOTAL)
    rows, ahead, summaries = forecast_all(
        Revenue(series.to_frame(TOTAL), weekly=weekly), settings, expected
    )
    return rows, ahead, summaries[TOTAL]


def test_every_listed_model_is_implemented():
    assert set(CANDIDATES) == set(FORECASTERS) == set(SETTINGS.models)


def test_monthly_revenue_has_zeros_for_silent_months_and_a_column_per_segment():
    lines = pd.DataFrame(
        {
            "customer_id": ["a", "b", None, "a", "c"],
            "timestamp": pd.to_datetime(
                ["2024-01-03", "2024-01-20", "2024-01-21", "2024-03-05", "2024-04-30T18:00"],
                format="ISO8601",
            ),
            "amount": [10.0, 5.0, 2.0, -4.0, 7.0],
        }
    )
    table, notes = monthly_revenue(lines, pd.Series({"a": "loyal", "b": "new"}))
    assert notes == []
    assert table.index.astype(str).tolist() == ["2024-01", "2024-02", "2024-03", "2024-04"]
    assert table["total"].tolist() == [17.0, 0.0, -4.0, 7.0]
    assert table["loyal"].tolist() == [10.0, 0.0, -4.0, 0.0]
    assert table["guests"].tolist() == [2.0, 0.0, 0.0, 0.0]
    assert table["unsegmented"].tolist() == [0.0, 0.0, 0.0, 7.0]  # c has no segment


def test_a_last_month_the_data_do_not_reach_the_end_of_is_left_out_with_a_note():
    lines = pd.DataFrame(
        {
            "customer_id": ["a", "a"],
            "timestamp": pd.to_datetime(["2024-01-31", "2024-02-10"]),
            "amount": [1.0, 2.0],
        }
    )
    table, notes = monthly_revenue(lines, pd.Series(dtype=object))
    assert table.index.astype(str).tolist() == ["2024-01"]
    assert notes == ["2024-02 is partial (the data end on 2024-02-10): left out"]


def test_too_short_a_history_is_one_line_naming_the_months_and_the_minimum():
    with pytest.raises(InputError) as error:
        require_history(monthly([1.0, 2.0, 3.0, 4.0]), 6, "lines.parquet")
    message = str(error.value)
    assert "4 full month(s) of revenue (2023-07 to 2023-10)" in message
    assert "forecast_setup.min_periods = 6" in message and "\n" not in message


def test_the_backtest_prefers_a_seasonal_model_on_seasonal_data_and_knows_the_noise_floor():
    actual, expected = seasonal_growth(36)
    expected["expected_from_history"] = 0.8 * expected["expected_revenue"]
    rows, ahead, summary = forecast_one(actual, SETTINGS, expected)
    scores = summary["models"]
    weekly = {name for name, c in CANDIDATES.items() if c.weekly}
    per_customer = {name for name, c in CANDIDATES.items() if c.per_customer}
    others = weekly | per_customer  # neither their weeks nor their orders are given
    assert all(scores[name]["status"] == "ok" for name in set(scores) - others)
    assert {scores[name]["why"] for name in weekly} == {"needs the weekly series"}
    assert all("customers' orders" in scores[name]["why"] for name in per_customer)
    assert CANDIDATES[summary["model"]].seasonal
    assert scores[summary["model"]]["mase"] < scores["naive"]["mase"]
    assert scores[summary["model"]]["beats_naive"] and "beats_naive" not in scores["naive"]
    assert summary["model"] == min(set(scores) - others, key=lambda m: scores[m]["mase"])
    # Forecasting with the expectation leaves only the noise: better than any model here.
    assert summary["truth"]["mase"] < scores[summary["model"]]["mase"]
    # Each error by horizon step too; every step has as many months, so they average to the whole.
    steps = scores[summary["model"]]["by_step"]
    assert list(steps) == [1, 2, 3] and all(
        set(e) == {"mae", "mape", "smape", "mase"} for e in steps.values()
    )
    for metric in ("mae", "smape", "mase"):
        mean = np.mean([e[metric] for e in steps.values()])
        assert mean == pytest.approx(scores[summary["model"]][metric])
    # Every origin forecasts every step, trained only on the months before it.
    naive = rows[rows["model"] == "naive"]
    assert len(naive) == SETTINGS.origins * SETTINGS.horizon
    first = naive[naive["step"] == 1]
    assert (first["forecast"].to_numpy() == actual.shift(1)[first["month"]].to_numpy()).all()
    assert ahead["month"].tolist() == ["2026-07", "2026-08", "2026-09"]
    assert summary["truth"]["next_total"] == pytest.approx(
        expected.loc["2026-06", "expected_revenue"].sum()
    )
    # a further column is reported by its name: a truth 20% low is far worse than the truth
    assert summary["truth"]["from_history"]["mase"] > 10 * summary["truth"]["mase"]
    assert ((ahead["lower"] <= ahead["forecast"]) & (ahead["forecast"] <= ahead["upper"])).all()
    assert summary["next"]["total"] == pytest.approx(ahead["forecast"].sum())


def test_seasonal_models_are_skipped_with_a_note_under_two_seasons():
    actual, _ = seasonal_growth(18)
    _, ahead, summary = forecast_one(actual, SETTINGS)
    skipped = {name for name, e in summary["models"].items() if e["status"] == "skipped"}
    assert skipped == {
        name for name, c in CANDIDATES.items() if c.seasonal or c.weekly or c.per_customer
    }
    assert "seasonal_naive skipped: needs 24 months to fit on" in summary["notes"][0]
    assert len(ahead) == SETTINGS.horizon and np.isfinite(ahead["forecast"]).all()


def test_a_model_that_cannot_fit_says_why_and_the_others_still_compete():
    actual, _ = seasonal_growth(30)
    actual.iloc[10] = -5.0  # a month of refunds: no log scale
    _, _, summary = forecast_one(actual, SETTINGS)
    assert summary["models"]["ets"] == {
        "status": "failed",
        "why": "negative monthly revenue: no log scale",
    }
    assert summary["models"][summary["model"]]["status"] == "ok"


def test_a_launch_cohort_that_fades_is_forecast_without_trouble():
    t = np.arange(30)
    fading = monthly(50_000 * np.exp(-0.4 * t) + 2_000 + 30 * (t % 3))
    _, ahead, summary = forecast_one(fading, SETTINGS)
    assert np.isfinite(ahead[["forecast", "lower", "upper"]].to_numpy()).all()
    ok = {m: e["mase"] for m, e in summary["models"].items() if e["status"] == "ok"}
    assert summary["model"] == min(ok, key=ok.get)


def test_intervals_from_backtest_errors_widen_with_the_step():
    actual, _ = seasonal_growth(36, noise=0.08)
    settings = dataclasses.replace(SETTINGS, models=("naive",))
    _, ahead, _ = forecast_one(actual, settings)
    width = (ahead["upper"] - ahead["lower"]).to_numpy()
    assert (np.diff(width) > 0).all()


@pytest.mark.parametrize("model", ["mean", "lag_regression", "ets"])
def test_an_interval_holds_its_forecast_even_when_every_backtest_error_points_one_way(model):
    actual = monthly(100_000 * np.exp(0.08 * np.arange(15)))  # growth: every mean falls short
    settings = dataclasses.replace(SETTINGS, models=(model,), origins=1, min_interval_errors=2)
    rows, ahead, summary = forecast_one(actual, settings)
    assert (rows["actual"] > rows["forecast"]).all() or model != "mean"
    assert ((ahead["lower"] <= ahead["forecast"]) & (ahead["forecast"] <= ahead["upper"])).all()
    assert summary["next"]["lower"] <= summary["next"]["total"] <= summary["next"]["upper"]


def test_too_few_backtest_errors_give_no_interval_and_say_which_key_gives_more():
    actual, _ = seasonal_growth(15, noise=0.05)
    settings = dataclasses.replace(SETTINGS, models=("mean",), origins=2)  # 6 errors, 9 needed
    _, ahead, summary = forecast_one(actual, settings)
    assert ahead[["lower", "upper"]].isna().all().all() and np.isfinite(ahead["forecast"]).all()
    assert summary["next"]["lower"] is None and summary["next"]["upper"] is None
    assert summary["models"]["mean"]["coverage"] is None  # each origin's from the other's 3
    note = next(n for n in summary["notes"] if n.startswith("no interval"))
    assert "6 backtest errors" in note and "min_interval_errors = 9" in note
    assert "forecast_setup.origins" in note
    assert "no interval: too few backtest errors" in describe(summary)[0]


def test_forecasting_twice_gives_the_same_numbers_in_one_process_or_several():
    actual, expected = seasonal_growth(30, seed=3)
    table = pd.DataFrame({"total": actual, "loyal": actual * 0.6})
    first = forecast_all(Revenue(table), dataclasses.replace(SETTINGS, n_jobs=1), expected)
    second = forecast_all(Revenue(table), dataclasses.replace(SETTINGS, n_jobs=2), expected)
    pd.testing.assert_frame_equal(first[0], second[0])
    pd.testing.assert_frame_equal(first[1], second[1])
    assert first[2] == second[2] and first[2]["loyal"]["truth"] is None


def test_the_stage_exits_2_with_one_line_when_the_history_is_short(tmp_path):
    for name in PARAMS_FILES:
        shutil.copy(ROOT / name, tmp_path / name)
    lines = pd.DataFrame(
        {
            "customer_id": ["a", "b", "a", "b"],
            "invoice": ["1", "2", "3", "4"],
            "timestamp": pd.to_datetime(["2025-01-05", "2025-02-05", "2025-03-05", "2025-04-30"]),
            "amount": [10.0, 20.0, 30.0, 40.0],
            "cancellation": [False] * 4,
        }
    )
    lines.to_parquet(tmp_path / "lines.parquet")
    pd.DataFrame({"customer_id": ["a", "b"], "segment": [0, 1], "name": ["x", "y"]}).to_csv(
        tmp_path / "segments.csv", index=False
    )
    pd.DataFrame(
        {"origin": ["2024-12"], "month": ["2025-01"], "expected_revenue": [1.0]}
    ).to_parquet(tmp_path / "expected.parquet")
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "stages/customers/forecast.py"),
            "lines.parquet",
            "segments.csv",
            "expected.parquet",
            "reports",
        ],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines() == [
        "error: lines.parquet: 4 full month(s) of revenue (2025-01 to 2025-04); the forecast "
        "needs at least forecast_setup.min_periods = 6. Give a longer export or lower "
        "forecast_setup.min_periods in config.yaml"
    ]


def test_own_intervals_are_recalibrated_on_the_other_origins_to_cover_the_level():
    settings = dataclasses.replace(SETTINGS, origins=12, models=("naive", "ets_seasonal", "sarima"))
    for seed in (0, 1):
        actual, _ = seasonal_growth(60, seed=seed, noise=0.05)
        _, ahead, summary = forecast_one(actual, settings)
        for name in ("ets_seasonal", "sarima"):
            scores = summary["models"][name]
            assert scores["interval_scale"] > 0
            assert abs(scores["coverage"] - settings.level) <= 0.1, (name, seed, scores)
        assert "interval_scale" not in summary["models"]["naive"]  # its bounds are its errors'
        assert (ahead["lower"] < ahead["forecast"]).all() and (
            ahead["forecast"] < ahead["upper"]
        ).all()


def daily_lines(days: int = 900, seed: int = 0) -> pd.DataFrame:
    """One line a day for a shop growing 2% a month with a weekly rhythm (weekends double)."""
    at = pd.date_range("2023-07-01", periods=days, freq="D")
    t = np.arange(days)
    rate = 1_000 * np.exp(0.02 * t / 30) * np.where(at.day_of_week >= 5, 2.0, 1.0)
    noise = np.exp(np.random.default_rng(seed).normal(0, 0.05, days))
    return pd.DataFrame(
        {"customer_id": "a", "timestamp": at + pd.Timedelta(hours=12), "amount": rate * noise}
    )


def test_weekly_revenue_runs_monday_to_sunday_with_zeros_and_agrees_with_the_months():
    lines = daily_lines(200).drop(index=range(40, 55))  # 15 silent days: a whole week
    weeks = weekly_revenue(lines, pd.Series({"a": "loyal"}))
    months, _ = monthly_revenue(lines, pd.Series({"a": "loyal"}))
    assert (weeks.index.start_time.day_of_week == 0).all() and weeks.index.is_monotonic_increasing
    assert weeks.index.end_time[-1] <= lines["timestamp"].max()  # a partial last week is left out
    assert (weeks["total"] == 0).sum() >= 1 and weeks["total"].equals(weeks["loyal"])
    # within the weeks that fall inside a month, the two series hold the same money
    inside = weeks[weeks.index.start_time >= months.index[1].start_time]
    inside = inside[inside.index.end_time <= months.index[3].end_time]
    expected = lines[(lines["timestamp"] >= inside.index.start_time[0])]
    expected = expected[expected["timestamp"] <= inside.index.end_time[-1]]
    assert inside["total"].sum() == pytest.approx(expected["amount"].sum())


def test_the_weekly_model_sums_its_weeks_into_months_by_their_days():
    lines = daily_lines(900)
    weeks = weekly_revenue(lines, pd.Series(dtype=object))["total"]
    months, _ = monthly_revenue(lines, pd.Series(dtype=object))
    y = months["total"].to_numpy()
    found = CANDIDATES["weekly_ets"](History.fit_on(y, months.index, SETTINGS, Views(weeks)))
    # the months ahead have 31, 31 and 28 days: about 1/7 of a week's revenue a day
    assert months.index[-1] == pd.Period("2025-11", "M")
    per_day = weeks.iloc[-8:].mean() / 7
    days = np.array([31, 31, 28])[: SETTINGS.horizon]
    assert found.mean == pytest.approx(per_day * days, rel=0.1)
    assert found.lower is None  # its intervals come from the backtest errors


def test_a_weekly_model_reads_only_the_weeks_that_end_by_its_origin():
    lines = daily_lines(900)
    weeks = weekly_revenue(lines, pd.Series(dtype=object))["total"]
    months, _ = monthly_revenue(lines, pd.Series(dtype=object))
    origin = months.index[20]
    y = months["total"].to_numpy()[:21]
    later = weeks.index.end_time > origin.end_time
    changed = weeks.where(~later, weeks * 10)
    model = CANDIDATES["weekly_ets"]
    first = model(History.fit_on(y, months.index[:21], SETTINGS, Views(weeks)))
    second = model(History.fit_on(y, months.index[:21], SETTINGS, Views(changed)))
    np.testing.assert_array_equal(first.mean, second.mean)
    # and given the weeks, the backtest scores it like any model
    result = backtest(months["total"], SETTINGS, Views(weeks))
    assert result.scores["weekly_ets"]["status"] == "ok"
    assert result.scores["weekly_ets"]["coverage"] is not None


def test_a_winner_that_cannot_fit_the_whole_history_gives_way_to_the_next_best():
    lines = daily_lines(900)
    last_week = lines["timestamp"] >= lines["timestamp"].max() - pd.Timedelta(days=40)
    refund = lines[last_week].head(1).assign(amount=-1e6)  # a negative week near the end
    lines = pd.concat([lines, refund], ignore_index=True)
    weeks = weekly_revenue(lines, pd.Series(dtype=object))["total"]
    months, _ = monthly_revenue(lines, pd.Series(dtype=object))
    settings = dataclasses.replace(SETTINGS, models=("weekly_ets", "naive"))
    result = backtest(months["total"], settings, Views(weeks))
    assert ranking(result.scores, "mase")[0] == "weekly_ets"  # the backtest's winner
    _, ahead, summary = forecast_one(months["total"], settings, weeks=weeks)
    assert summary["model"] == "naive" and (ahead["model"] == "naive").all()
    assert summary["notes"] == [
        "weekly_ets cannot fit the whole history (negative weekly revenue: no log scale): the "
        "next best in the backtest forecasts instead"
    ]


def test_a_model_reads_one_history_and_an_unknown_argument_fails():
    actual, _ = seasonal_growth(30)
    history = History.fit_on(actual.to_numpy(), actual.index, SETTINGS, Views())
    assert len(CANDIDATES["ets"](history).mean) == SETTINGS.horizon
    with pytest.raises(TypeError, match="levl"):
        CANDIDATES["ets"](history, levl=0.5)  # a misspelled setting is not swallowed
    with pytest.raises(TypeError, match="view"):
        History(actual.to_numpy(), actual.index, SETTINGS, view=Views())
    with pytest.raises(TypeError, match="fit_windw"):
        dataclasses.replace(SETTINGS, fit_windw=12)


def test_the_settings_come_from_the_params_with_no_default_of_their_own():
    fields = dataclasses.fields(Settings)
    assert all(f.default is dataclasses.MISSING for f in fields)
    assert all(f.default_factory is dataclasses.MISSING for f in fields)
    params = read_params(ROOT)
    del params["forecast_setup"]["fit_window"]
    with pytest.raises(KeyError, match="fit_window"):
        Settings.from_params(params)


def test_the_truth_applies_only_to_the_export_the_generator_wrote_beside_it():
    months = pd.period_range("2024-01", periods=4, freq="M")
    labels = pd.period_range("2023-12", periods=7, freq="M").astype(str)
    pairs = [(o, m) for i, o in enumerate(labels) for m in labels[i + 1 :]]
    expected = pd.DataFrame(pairs, columns=["origin", "month"]).assign(expected_revenue=1.0)
    raw = Path("data/customers/raw")
    truth = raw / "expected_revenue.parquet"
    found = generator_truth(expected, truth, raw / "transactions.csv", months)
    assert found is not None and found.index.names == ["origin", "month"]
    assert len(found) == len(pairs)
    # the same folder, however it is spelled
    spelled = Path.cwd() / raw / "transactions.csv"
    assert generator_truth(expected, truth, spelled, months) is not None
    # a shop's own export, elsewhere
    assert generator_truth(expected, truth, Path("data/own/sales.csv"), months) is None
    # an export put in the generator's place, with months its truth never saw
    later = pd.period_range("2024-03", periods=6, freq="M")
    assert generator_truth(expected, truth, raw / "transactions.csv", later) is None

"""The click generator: TalkingData's schema, a p_true that is exactly its formula on the written
log (recomputed here by brute force), installs that end keys, determinism, and its targets."""

from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sklearn.metrics import roc_auc_score

from leadsift.clicks import world as w
from leadsift.clicks.synth import (
    KEY,
    LOG_SCHEMA,
    TRUTH_SCHEMA,
    ClickSettings,
    generate_hours,
    world_for,
    write_click_log,
)
from leadsift.core.io import InputError

SMALL = ClickSettings(n_clicks=40_000, days=2, incoming_days=1, world_seed=7, sample_seed=3)
DAYS = ["2017-11-06", "2017-11-07", "2017-11-08"]


def write(settings: ClickSettings, root: Path) -> dict:
    return write_click_log(settings, root / "raw", root / "truth", root / "incoming")


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("clicks")
    return root, write(SMALL, root)


@pytest.fixture(scope="module")
def clicks(written: tuple[Path, dict]) -> pd.DataFrame:
    """Every day's log (log days, then incoming days) with p_true, in file order."""
    root, _ = written
    frames = []
    for day in DAYS:
        folder = "incoming" if day == DAYS[-1] else "raw"
        log = pd.read_parquet(root / folder / f"{day}.parquet")
        truth = pd.read_parquet(root / "truth" / f"{day}.parquet")
        assert log["click_id"].tolist() == truth["click_id"].tolist()
        frames.append(log.assign(p_true=truth["p_true"].to_numpy(), day=day))
    return pd.concat(frames, ignore_index=True)


def brute_force_past(df: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per click, from the log alone (rows in click_id order): clicks of its key at most 3600 s and
    at least 1 s earlier, whether one of them is at most 9 s earlier, and how many of them fall
    in an earlier clock hour."""
    seconds = df["click_time"].to_numpy().astype("datetime64[s]").astype(np.int64)
    keys = zip(*(df[name].to_numpy() for name in KEY), strict=True)
    times: dict[tuple, list[int]] = defaultdict(list)
    count = np.zeros(len(df), dtype=int)
    burst = np.zeros(len(df), dtype=bool)
    earlier_hour = np.zeros(len(df), dtype=int)
    for row, (key, t) in enumerate(zip(keys, seconds.tolist(), strict=True)):
        past = times[key]
        low, high = bisect_left(past, t - 3600), bisect_left(past, t)
        count[row] = high - low
        burst[row] = high > 0 and past[high - 1] >= t - 9
        earlier_hour[row] = bisect_left(past, t - t % 3600) - low
        past.append(t)
    return count, burst, earlier_hour


def expected_auc(score: np.ndarray, p: np.ndarray) -> float:
    """ROC-AUC of `score` averaged over labels drawn from `p` (far less noisy than one draw)."""
    labels = np.r_[np.ones(len(p)), np.zeros(len(p))]
    return roc_auc_score(labels, np.r_[score, score], sample_weight=np.r_[p, 1 - p])


def test_files_follow_talkingdata_schema_one_row_group_per_hour(written):
    root, counts = written
    assert sorted(p.name for p in (root / "raw").iterdir()) == [f"{d}.parquet" for d in DAYS[:2]]
    assert sorted(p.name for p in (root / "incoming").iterdir()) == [f"{DAYS[2]}.parquet"]
    assert sorted(p.stem for p in (root / "truth").iterdir()) == DAYS
    for day in DAYS:
        folder = "incoming" if day == DAYS[-1] else "raw"
        log = pq.ParquetFile(root / folder / f"{day}.parquet")
        assert log.schema_arrow == LOG_SCHEMA
        assert pq.ParquetFile(root / "truth" / f"{day}.parquet").schema_arrow == TRUTH_SCHEMA
        assert log.metadata.num_rows == counts["clicks"][day]
        hours = pq.read_table(root / folder / f"{day}.parquet")["click_time"].to_pandas().dt.hour
        assert log.num_row_groups == hours.nunique() <= 24
        for group in range(log.num_row_groups):
            hours = log.read_row_group(group)["click_time"].to_pandas().dt.hour
            assert (hours == hours.iloc[0]).all()


def test_ids_labels_and_times_are_consistent(clicks, written):
    _, counts = written
    assert (clicks[[*KEY, "channel"]] >= 0).all().all()
    assert clicks["click_id"].tolist() == list(range(len(clicks)))
    assert clicks["click_time"].is_monotonic_increasing
    assert (clicks["click_time"].dt.strftime("%Y-%m-%d") == clicks["day"]).all()
    attributed = clicks["is_attributed"] == 1
    assert set(clicks["is_attributed"]) == {0, 1}
    assert (attributed == clicks["attributed_time"].notna()).all()
    delay = (clicks["attributed_time"] - clicks["click_time"])[attributed].dt.total_seconds()
    assert (delay >= 60).all() and delay.median() > 600
    assert counts["attributed"] == clicks.groupby("day")["is_attributed"].sum().to_dict()
    assert counts["clicks"] == clicks.groupby("day").size().to_dict()
    assert clicks["p_true"].between(0, 1).all()


def test_p_true_is_the_formula_on_the_written_log(clicks):
    world = world_for(SMALL)
    count, burst, earlier_hour = brute_force_past(clicks)
    logit = (
        world.intercept
        + world.app_effect[clicks["app"]]
        + world.channel_effect[clicks["channel"]]
        + world.os_effect[clicks["os"]]
        + world.device_effect[clicks["device"]]
        + world.hour_effect[clicks["click_time"].dt.hour]
        - w.COUNT_WEIGHT * np.log1p(count)
        - w.BURST_WEIGHT * burst
    )
    np.testing.assert_allclose(clicks["p_true"], 1 / (1 + np.exp(-logit)), rtol=0, atol=1e-12)
    # the test covers what it must: windows reaching into the previous hour (and day), bursts
    first_hour_of_day = clicks["click_time"].dt.hour.eq(0) & clicks["day"].ne(DAYS[0])
    assert (earlier_hour > 0).sum() > 1000 and (earlier_hour[first_hour_of_day] > 0).sum() > 50
    assert ((count > 0) & (earlier_hour == count)).sum() > 100  # its whole window is earlier
    assert burst.sum() > 1000 and (count > 20).sum() > 1000


def test_no_key_clicks_after_its_first_attributed_click(clicks):
    first = clicks[clicks["is_attributed"] == 1].groupby(KEY)["click_id"].min().rename("first")
    joined = clicks.join(first, on=KEY, how="inner")
    assert len(first) > 20
    assert (joined["click_id"] <= joined["first"]).all()


def test_installs_only_remove_later_clicks_and_leave_p_true_of_the_rest():
    settings = ClickSettings(n_clicks=30_000, days=1, incoming_days=1, world_seed=7)
    world = world_for(settings)
    columns = [*KEY, "channel", "click_time", "p_true", "is_attributed"]

    def log(installs: bool) -> pd.DataFrame:
        hours = generate_hours(settings, world, installs=installs)
        return pa.concat_tables([h.table for h in hours]).select(columns).to_pandas()

    real, without = log(installs=True), log(installs=False)
    assert real["is_attributed"].sum() > 10 and without["is_attributed"].sum() == 0
    where = [*KEY, "channel", "click_time"]
    # same-second clicks of one key and channel are alike: compare multisets of clicks
    real_n = real.groupby(where).agg(n=("p_true", "size"), p=("p_true", "first"))
    without_n = without.groupby(where).agg(n=("p_true", "size"), p=("p_true", "first"))
    both = real_n.join(without_n, how="left", suffixes=("", "_without"))
    assert (both["n"] <= both["n_without"]).all()
    np.testing.assert_allclose(both["p"], both["p_without"], rtol=0, atol=1e-15)
    # what installs removed: only clicks of a key at or after its first attributed click
    removed = without_n.join(real_n, suffixes=("", "_real"))
    removed = removed[removed["n"] > removed["n_real"].fillna(0)].reset_index()
    first = real[real["is_attributed"] == 1].groupby(KEY)["click_time"].min().rename("first")
    removed = removed.join(first, on=KEY)
    assert len(removed) > 0 and (removed["click_time"] >= removed["first"]).all()


def test_same_settings_write_byte_identical_files(tmp_path):
    settings = ClickSettings(n_clicks=10_000, days=1, incoming_days=1, world_seed=7)
    counts = [write(settings, tmp_path / run) for run in ("a", "b")]
    assert counts[0] == counts[1]
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*.parquet"))
    assert len(files) == 4
    for name in files:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    assert not list(tmp_path.rglob("*.tmp"))


def test_generate_hours_is_what_is_written(clicks):
    tables = [hour.table for hour in generate_hours(SMALL)]
    assert len(tables) == 24 * 3
    generated = pa.concat_tables(tables).to_pandas()
    pd.testing.assert_frame_equal(generated, clicks.drop(columns="day"))


def test_another_sample_seed_draws_other_clicks_in_the_same_world():
    other = replace(SMALL, sample_seed=4)
    world, world_other = world_for(SMALL), world_for(other)
    for name in ("app_effect", "channel_effect", "user_ip", "fraud_ip", "hour_effect"):
        assert np.array_equal(getattr(world, name), getattr(world_other, name))
    assert world.intercept == world_other.intercept
    first = next(h for h in generate_hours(SMALL) if h.table.num_rows)
    first_other = next(h for h in generate_hours(other) if h.table.num_rows)
    assert not first.table.equals(first_other.table)


def test_same_second_ties_and_heavy_tailed_ips(clicks):
    per_second = clicks.groupby(["ip", "click_time"]).size()
    assert per_second[per_second > 1].sum() > 0.05 * len(clicks)
    per_ip = clicks["ip"].value_counts()
    assert per_ip.iloc[: max(1, len(per_ip) // 100)].sum() > 0.1 * len(clicks)


def test_attributed_rate_ceiling_and_what_counts_add():
    settings = ClickSettings(n_clicks=600_000, days=4, incoming_days=0)
    world = world_for(settings)
    rows, attributed, last_day = 0, 0, []
    for hour in generate_hours(settings, world):
        rows += hour.table.num_rows
        attributed += int(np.asarray(hour.table["is_attributed"]).sum())
        if hour.start.day == 9:
            table = hour.table.to_pandas().assign(fraud=hour.fraud, hour=hour.start.hour)
            last_day.append(table)
    assert 0.985 * 600_000 < rows < 1.015 * 600_000
    assert 0.0018 < attributed / rows < 0.0032
    day = pd.concat(last_day, ignore_index=True)
    keys_only = (
        world.app_effect[day["app"]]
        + world.channel_effect[day["channel"]]
        + world.os_effect[day["os"]]
        + world.device_effect[day["device"]]
        + world.hour_effect[day["hour"]]
    )
    p = day["p_true"].to_numpy()
    ceiling = expected_auc(p, p)
    assert 0.93 < ceiling < 0.98
    assert expected_auc(keys_only, p) < ceiling - 0.003
    fraud = day["fraud"].to_numpy()
    assert expected_auc(keys_only[fraud], p[fraud]) < expected_auc(p[fraud], p[fraud]) - 0.01


def test_settings_from_params():
    entry = {"n_clicks": 1000, "start": "2017-11-06", "days": 3, "world_seed": 1}
    assert ClickSettings.from_params(entry) == ClickSettings(1000, days=3, world_seed=1)
    assert ClickSettings.from_params({"n_clicks": 5, "start": pd.Timestamp("2020-01-02").date()})
    bad = [
        {"days": 3},
        {"n_clicks": 10, "colour": 1},
        {"n_clicks": 10.5},
        {"n_clicks": True},
        {"n_clicks": 0},
        {"n_clicks": 10, "days": 0},
        {"n_clicks": 10, "start": "2017-11-06 10:00"},
        {"n_clicks": 10, "start": "not a date"},
        {"n_clicks": 10, "sample_seed": -1},
        [],
    ]
    for entry in bad:
        with pytest.raises(InputError, match="generate_clicks"):
            ClickSettings.from_params(entry)

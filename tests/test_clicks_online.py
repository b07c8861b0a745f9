"""Online click scoring in process: the state's features of every click equal the batch stage's,
whatever the micro-batch, across midnights and installs, after a restart from the log and with
clicks arriving out of order; the served answer's probability equals the batch score, bit for
bit; raw clicks are read by the log's own contract."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from leadsift.clicks import engine
from leadsift.clicks.events import EventStore, hashed_key, pair_key
from leadsift.clicks.features import DAY, feature_names, features_sql
from leadsift.clicks.model import ClickModel, ClickScorer
from leadsift.clicks.online import ClickState
from leadsift.clicks.schema import ClickRoles
from leadsift.clicks.serving import OnlineClickScorer
from leadsift.core.contract import ContractBreachError
from tests.test_clicks_features import D0, D1, D2, ROLES, USER_APP, edge_case_log, write_clicks

NAMES = feature_names()


@pytest.fixture(scope="module")
def log() -> pd.DataFrame:
    """The edge-case log (ties, window edges, midnights, installs at a day's start), in time
    order; its first click of each key is its first ever."""
    return edge_case_log().sort_values("t", kind="stable", ignore_index=True)


def batch_features(clicks: pd.DataFrame, root: Path) -> pd.DataFrame:
    """The batch stage's features of every click, as the stage writes and scoring reads them."""
    root.mkdir(parents=True, exist_ok=True)
    source = write_clicks(clicks, root / "clicks.parquet")
    with engine.connect(engine.EngineSettings("1GB", str(root / "spill"), 1)) as connection:
        engine.write_parquet(connection, features_sql(source), root / "features.parquet")
    return pd.read_parquet(root / "features.parquet").set_index("click_id")


@pytest.fixture(scope="module")
def batch(log: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    return batch_features(log, tmp_path_factory.mktemp("online"))


def replay(state: ClickState, clicks: pd.DataFrame, size: int, installs: pd.DataFrame):
    """`clicks` through `state` `size` at a time, each day's installs reported before its first
    click: the features of every click (and `late`), by click_id."""
    installs = installs.sort_values("attributed_t")
    parts = []
    for start in range(0, len(clicks), size):
        part = clicks.iloc[start : start + size]
        known = installs["attributed_t"] < part["t"].max() // DAY * DAY
        if known.any():
            state.record_installs(installs[known].astype({"attributed_t": "int64"}))
            installs = installs[~known]
        late = state.remember(part)
        parts.append(state.featurize(part).assign(late=late, click_id=part["click_id"].to_numpy()))
    return pd.concat(parts).set_index("click_id")


def assert_same_features(online: pd.DataFrame, batch: pd.DataFrame) -> None:
    expected = batch.loc[online.index]
    for name in NAMES:
        np.testing.assert_array_equal(
            online[name].to_numpy(dtype=float),
            expected[name].to_numpy(dtype=float, na_value=np.nan),
            err_msg=name,
        )


def installs_of(log: pd.DataFrame) -> pd.DataFrame:
    return log.dropna(subset=["attributed_t"])


@pytest.mark.parametrize("size", [1, 7, 1000])
def test_every_feature_of_every_click_equals_the_batch_stages_in_any_micro_batch(log, batch, size):
    online = replay(ClickState(max_lateness=0), log, size, installs_of(log))
    assert len(online) == len(log) and not online["late"].any()
    assert_same_features(online, batch)
    # the replayed log holds the cases that decide it
    assert log.duplicated([*USER_APP, "t"], keep=False).sum() > 100  # same-second user clicks
    assert batch["gap_user_app"].isna().sum() > 100  # first clicks (ever, or in a day)
    assert (batch["gap_user_app"] == DAY).sum() >= 5  # a click exactly a day after the last
    assert batch.loc[batch["t"] >= D1, "rate_app"].notna().all()  # rates published at midnight


@pytest.mark.parametrize("cut", [D1 + 7 * 3600 + 1234, D2])
def test_a_state_warmed_from_the_log_continues_as_an_uninterrupted_one(log, batch, cut, tmp_path):
    source = write_clicks(log[log["t"] < cut], tmp_path / "log.parquet")
    state = ClickState(max_lateness=0)
    with engine.connect(engine.EngineSettings("1GB", str(tmp_path / "spill"), 1)) as connection:
        state.warm(connection, source)
    later = log[log["t"] >= cut]
    online = replay(state, later, 50, installs_of(later))  # the log's are known
    assert len(online) == len(later)
    assert_same_features(online, batch)


def test_a_click_out_of_order_is_answered_from_the_clicks_arrived_before_it(log, tmp_path):
    """Within `max_lateness`, a click's features are the batch stage's over the clicks that had
    arrived by then (a click scored before an earlier one arrived could not count it); older
    clicks are marked late."""
    rng = np.random.default_rng(3)
    arrival = log["t"] + rng.integers(0, 600, len(log))
    same_day = arrival // DAY == log["t"] // DAY  # a late click of yesterday would miss its rates
    arrived = log[same_day].iloc[np.argsort(arrival[same_day], kind="stable")]
    assert (np.diff(arrived["t"]) < 0).sum() > 1000  # out of order
    online = replay(ClickState(max_lateness=600), arrived, 1, installs_of(arrived))
    assert not online["late"].any()
    for i in np.random.default_rng(4).choice(len(arrived), 40, replace=False):
        so_far = batch_features(arrived.iloc[: i + 1], tmp_path / str(i))
        assert_same_features(online.iloc[[i]], so_far)
    strict = replay(ClickState(max_lateness=100), arrived, 7, installs_of(arrived))
    newest = np.maximum.accumulate(np.r_[-1, arrived["t"].to_numpy()])[:-1]
    assert strict["late"].tolist() == (arrived["t"].to_numpy() < newest - 100).tolist()
    assert strict["late"].sum() > 100


def test_keys_idle_past_the_horizon_leave_the_state():
    store = EventStore()
    keys = np.arange(10_000, dtype=np.int64)
    store.add(keys, np.full(10_000, D0), keep_from=D0)
    for hour in range(1, 30):  # one key clicks each hour for 29 hours
        store.add(np.array([7]), np.array([D0 + hour * 3600]), keep_from=D0 + hour * 3600 - DAY)
        store.add(np.array([8]), np.array([D0 + hour * 3600 + 1]), keep_from=D0 + hour * 3600 - DAY)
    assert store.keys <= 10 and store.events <= 60
    (count,), _ = store.window(np.array([7, 9]), [np.array([D1, D1])], np.full(2, D1 + DAY))
    assert count.tolist() == [6, 0]  # its clicks of hours 24 to 29


def test_clicks_weeks_apart_in_one_batch_keep_the_runs_within_their_span():
    state = ClickState(max_lateness=0)
    far = pd.DataFrame(
        {"ip": [1, 1, 1], "app": 2, "device": 3, "os": 4, "channel": 5,
         "t": [D0, D0 + 30 * DAY, D0 + 30 * DAY + 10]}
    )  # fmt: skip
    features, late = state.observe(far)
    assert not late.any()
    assert features["n_ip_1d"].tolist() == [0, 0, 1] and features["n_ip_today"].tolist() == [
        0,
        0,
        1,
    ]
    with pytest.raises(ValueError, match="may span at most"):
        EventStore().add(np.array([1, 1]), np.array([D0, D0 + 30 * DAY]), keep_from=0)
    with pytest.raises(ValueError, match="ip ids must be within"):
        state.observe(far.assign(ip=-1))


def test_keys_of_two_ids_are_exact_and_four_ids_hash_to_distinct_keys():
    top = np.array([2**31 - 1, 0, 2**31 - 1])
    low = np.array([0, 2**31 - 1, 2**31 - 1])
    assert len(set(pair_key(top, low).tolist())) == 3 and (pair_key(top, low) >= 0).all()
    rng = np.random.default_rng(0)
    ids = [rng.integers(0, 2**31, 1_000_000) for _ in range(4)]
    assert len(np.unique(hashed_key(*ids))) == 1_000_000
    swapped = hashed_key(ids[1], ids[0], ids[2], ids[3])
    assert not (swapped == hashed_key(*ids)).any()


# ---------------------------------------------------------------- the served scorer


@pytest.fixture(scope="module")
def scorer(batch) -> ClickScorer:
    """A small click model fitted on the labelled days' batch features."""
    labelled = batch[batch["is_attributed"].notna()]
    model = ClickModel(
        features=NAMES, n_bags=2, params={"n_estimators": 30, "verbose": -1, "n_jobs": 1}
    ).fit(labelled, labelled["is_attributed"].to_numpy())
    return ClickScorer(model, threshold=0.02)


def raw_records(clicks: pd.DataFrame) -> pd.DataFrame:
    """Clicks as a request sends them: the log's columns, times as text."""
    return (
        clicks[["click_id", "ip", "app", "device", "os", "channel"]]
        .astype("int64")
        .assign(click_time=pd.to_datetime(clicks["t"], unit="s").dt.strftime("%Y-%m-%d %H:%M:%S"))
    )


def test_the_served_answer_equals_the_batch_score_bit_for_bit(log, batch, scorer):
    online = OnlineClickScorer(scorer, ClickState(max_lateness=0), ROLES)
    installs = installs_of(log).sort_values("attributed_t")
    answers = []
    for start in range(0, len(log), 500):
        part = raw_records(log.iloc[start : start + 500])
        known = installs["attributed_t"] < log["t"].iloc[start : start + 500].max() // DAY * DAY
        online.record_installs(installs[known].astype({"attributed_t": "int64"}))
        installs = installs[~known]
        answers.append(online.predict(part))
    answer = pd.concat(answers, ignore_index=True).set_index("click_id")
    expected = scorer.answer(batch[NAMES]).loc[answer.index]
    np.testing.assert_array_equal(answer["probability"], expected["probability"])
    assert answer["flagged"].tolist() == expected["flagged"].tolist()
    assert set(answer["tier"]) <= {"low", "medium", "high"}
    assert (answer["tier"] == "low").tolist() == answer["flagged"].tolist()
    assert answer["raises_1"].str.contains(r" = .* \(\+").any()
    assert answer["lowers_1"].str.contains(r" = .* \(-").any()


def test_plain_clicks_are_read_as_the_whole_contract_reads_them(log, scorer):
    """The quick reading of plainly clean clicks (integer ids, `YYYY-MM-DD HH:MM:SS` times) gives
    what the prepare stage's contract gives; any other spelling goes to the contract."""
    online = OnlineClickScorer(scorer, ClickState(), ROLES)
    records = raw_records(log)
    quick = online.read_plain(records, online.roles)
    whole = online.read_by_contract(records, online.roles)
    pd.testing.assert_frame_equal(quick, whole, check_dtype=False)
    assert (quick["t"] == log["t"].to_numpy()).all()
    for spelling in (
        records.assign(click_time=records["click_time"].str.replace(" ", "T")),  # ISO 8601
        records.assign(app=records["app"].astype(float)),  # 3.0
        records.assign(ip=records["ip"].astype(str)),
        records.assign(
            click_time=lambda d: d["click_time"].where(d.index != 5, "2017-02-29 10:00:00")
        ),
    ):
        assert online.read_plain(spelling, online.roles) is None
    iso = records.assign(click_time=records["click_time"].str.replace(" ", "T"))
    pd.testing.assert_frame_equal(online.read(iso), whole, check_dtype=False)


def test_raw_clicks_are_read_by_the_logs_contract(scorer):
    online = OnlineClickScorer(scorer, ClickState(), ClickRoles(**{**ROLES.__dict__}))
    good = {"ip": 1, "app": 2, "device": 1, "os": 3, "channel": 4}
    records = pd.DataFrame(
        [
            {**good, "click_time": "2017-11-09 10:00:00"},
            {**good, "ip": -1, "click_time": "2017-11-09 10:00:01"},
            {**good, "app": 2.5, "click_time": "yesterday"},
        ]
    )
    with pytest.raises(ContractBreachError) as refused:
        online.predict(records)
    message = str(refused.value)
    assert "2 click(s) were not scored" in message
    assert "row 1: negative ip" in message
    assert "row 2: app not a whole number; click_time not a time" in message
    with pytest.raises(ContractBreachError, match=r"missing column\(s\) \['channel'\]"):
        online.predict(records.drop(columns="channel"))
    with pytest.raises(ContractBreachError, match=r"click_time in the future \(row 1\)"):
        online.predict(
            records.iloc[:2].assign(ip=1, click_time=["2017-11-09 10:00:00", "2099-01-01 00:00:00"])
        )
    other = dataclasses.replace(online.roles, time_format="%Y-%d-%m %H:%M:%S")
    assert online.read_plain(records.iloc[:1], other) is None  # read as the roles say
    answer = online.predict(records.iloc[:1])  # no click_id: answered all the same
    assert "click_id" not in answer and answer["probability"].between(0, 1).all()
    assert online.state.newest == pd.Timestamp("2017-11-09 10:00:00").timestamp()

"""Point-in-time click features in the engine: every feature of every click against a brute-force
computation of its definition, the window edges and day boundaries by hand, the past unchanged
when the future is deleted (and the leaky features caught by the same check), and the same
features whatever order the rows are stored in."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from leadsift.clicks import engine
from leadsift.clicks.cleaning import input_files, prepare
from leadsift.clicks.features import DAY, HOUR, LEAKY, POINT_IN_TIME, features_sql
from leadsift.clicks.schema import ClickRoles
from leadsift.clicks.synth import ClickSettings, write_click_log

D0 = 1_509_926_400  # 2017-11-06 00:00:00 UTC
D1, D2, D3 = D0 + DAY, D0 + 2 * DAY, D0 + 3 * DAY
SCHEMA = pa.schema(
    [
        ("click_id", pa.int64()),
        *((name, pa.int32()) for name in ("ip", "app", "device", "os", "channel")),
        ("t", pa.int64()),
        ("attributed_t", pa.int64()),
        ("is_attributed", pa.int8()),
    ]
)
ROLES = ClickRoles(
    ip="ip", app="app", device="device", os="os", channel="channel", click_time="click_time",
    attributed_time="attributed_time", is_attributed="is_attributed", click_id="click_id",
)  # fmt: skip

# What each feature is, written out here rather than read from POINT_IN_TIME: (kind, key, arg)
IP, IP_APP, APP_CHANNEL = ("ip",), ("ip", "app"), ("app", "channel")
USER_APP = ("ip", "app", "device", "os")
SPEC: dict[str, tuple[str, tuple[str, ...], object]] = {
    **{
        f"n_{name}_{window}": ("count", key, seconds)
        for name, key in (
            ("ip", IP),
            ("ip_app", IP_APP),
            ("user_app", USER_APP),
            ("app_channel", APP_CHANNEL),
        )
        for window, seconds in (("1m", 60), ("1h", 3600), ("1d", 86400))
    },
    "n_ip_today": ("today", IP, None),
    "n_user_app_today": ("today", USER_APP, None),
    "gap_user_app": ("since", USER_APP, None),
    "gap_ip_app": ("since", IP_APP, None),
    "apps_per_ip_today": ("distinct", IP, "app"),
    "channels_per_ip_today": ("distinct", IP, "channel"),
    "rate_channel": ("rate", ("channel",), None),
    "rate_app": ("rate", ("app",), None),
}


def write_clicks(clicks: pd.DataFrame, path: Path) -> str:
    """Clicks with the prepared columns (whole epoch seconds) as Parquet; its table expression."""
    table = pa.Table.from_pandas(clicks[SCHEMA.names], schema=SCHEMA, preserve_index=False)
    pq.write_table(table, path)
    return engine.parquet_source([path])


def clicks_frame(rows: list[tuple], labels: dict[int, int | None] | None = None) -> pd.DataFrame:
    """Clicks from (ip, app, device, os, channel, t) rows, click_id their position; `labels`
    gives the attributed_t of attributed clicks (the rest are labelled 0)."""
    df = pd.DataFrame(rows, columns=["ip", "app", "device", "os", "channel", "t"])
    df.insert(0, "click_id", np.arange(len(df)))
    attributed = pd.Series(labels or {}, dtype="Int64").reindex(df.index)
    df["attributed_t"] = attributed
    df["is_attributed"] = attributed.notna().astype("int8")
    return df


def features_of(
    connection, source: str, features=POINT_IN_TIME, where: str | None = None
) -> pd.DataFrame:
    clicks = f"(SELECT * FROM {source} WHERE {where})" if where else source
    return connection.execute(features_sql(clicks, features)).df()


@pytest.fixture
def connection(tmp_path: Path):
    with engine.connect(engine.EngineSettings("1GB", str(tmp_path / "spill"), 1)) as conn:
        yield conn


# ---------------------------------------------------------------- the definitions, by hand


def test_window_edges_count_a_click_exactly_s_earlier_and_not_one_of_the_same_second(
    connection, tmp_path
):
    t0 = D0 + 10 * HOUR  # 10:00:00 on the first day
    offsets = [0, 0, 60, 61, 3600, 3660, 86400, 86400, 86401]
    df = clicks_frame([(1, 1, 1, 1, 1, t0 + s) for s in offsets])
    got = features_of(connection, write_clicks(df, tmp_path / "c.parquet"))
    assert got["click_id"].tolist() == list(range(len(offsets)))
    # the two clicks at t0 do not see each other; at t0 + 60 both are exactly 60 s earlier
    assert got["n_user_app_1m"].tolist() == [0, 0, 2, 1, 0, 1, 0, 0, 2]
    assert got["n_user_app_1h"].tolist() == [0, 0, 2, 3, 4, 3, 0, 0, 2]
    assert got["n_user_app_1d"].tolist() == [0, 0, 2, 3, 4, 5, 6, 6, 6]
    assert got["n_user_app_today"].tolist() == [0, 0, 2, 3, 4, 5, 0, 0, 2]
    np.testing.assert_array_equal(
        got["gap_user_app"], [np.nan, np.nan, 60, 1, 3539, 60, 82740, 82740, 1]
    )
    # every key of the same user's clicks reads the same here
    for key in ("ip", "ip_app", "app_channel"):
        for window in ("1m", "1h", "1d"):
            assert got[f"n_{key}_{window}"].tolist() == got[f"n_user_app_{window}"].tolist()
    assert got["hour"].tolist() == [10, 10, 10, 10, 11, 11, 10, 10, 10]
    assert got["day"].tolist() == [D0 // DAY] * 6 + [D1 // DAY] * 3


def test_today_counts_and_distinct_values_reset_at_midnight_utc(connection, tmp_path):
    rows = [  # one ip: (app, channel, t) across midnight, two clicks at 00:00:00
        (1, 1, D1 - 2),
        (2, 1, D1 - 1),
        (2, 2, D1),
        (3, 2, D1),
        (2, 3, D1 + 1),
        (3, 3, D1 + 2),
    ]
    df = clicks_frame([(7, app, 1, 1, channel, t) for app, channel, t in rows])
    got = features_of(connection, write_clicks(df, tmp_path / "c.parquet"))
    assert got["n_ip_1m"].tolist() == [0, 1, 2, 2, 4, 5]  # windows run across midnight
    assert got["n_ip_today"].tolist() == [0, 1, 0, 0, 2, 3]  # today's do not
    assert got["apps_per_ip_today"].tolist() == [0, 1, 0, 0, 2, 2]
    assert got["channels_per_ip_today"].tolist() == [0, 1, 0, 0, 1, 2]
    np.testing.assert_array_equal(got["gap_ip_app"], [np.nan, np.nan, 1, np.nan, 1, 2])
    assert got["hour"].tolist() == [23, 23, 0, 0, 0, 0]


def test_rates_count_installs_attributed_strictly_before_the_day_start(connection, tmp_path):
    rows = [  # (ip, t): one channel and app over four days
        (1, D0 + 100),  # installs exactly at the second day's start: known from the third day
        (2, D0 + 200),  # installs a second before it: known on the second day
        (3, D0 + 300),
        (4, D1),  # 00:00:00 on the second day
        (5, D1 + 500),  # installs on the third day
        (6, D2 + 10),
        (7, D3),
    ]
    labels = {0: D1, 1: D1 - 1, 4: D2 + 7200}
    df = clicks_frame([(ip, 5, 1, 1, 7, t) for ip, t in rows], labels)
    got = features_of(connection, write_clicks(df, tmp_path / "c.parquet"))
    expected = [np.nan, np.nan, np.nan, 1 / 3, 1 / 3, 2 / 5, 3 / 6]
    np.testing.assert_array_equal(got["rate_channel"], expected)
    np.testing.assert_array_equal(got["rate_app"], expected)
    assert got["is_attributed"].tolist() == [1, 1, 0, 0, 1, 0, 0]


# ---------------------------------------------------------------- every feature, brute force


def brute_force(clicks: pd.DataFrame) -> pd.DataFrame:
    """Every feature of SPEC for every click, from its definition: the key's clicks at earlier
    whole seconds (pairwise, key by key), in click_id order."""
    t = clicks["t"].to_numpy()
    day = t // DAY
    known = clicks["attributed_t"].to_numpy(dtype=float, na_value=np.nan)
    out = pd.DataFrame({"click_id": clicks["click_id"], "day": day, "t": t})
    out["hour"] = (t % DAY) // HOUR
    for name, (kind, key, arg) in SPEC.items():
        values = np.full(len(clicks), np.nan)
        for rows in clicks.groupby(list(key)).indices.values():
            tg, dg = t[rows], day[rows]
            earlier = tg[None, :] < tg[:, None]  # [i, j]: j strictly before i
            today = earlier & (dg[None, :] == dg[:, None])
            if kind == "count":
                values[rows] = (earlier & (tg[None, :] >= tg[:, None] - arg)).sum(axis=1)
            elif kind == "today":
                values[rows] = today.sum(axis=1)
            elif kind == "since":  # the previous click within a day
                within = earlier & (tg[None, :] >= tg[:, None] - DAY)
                last = np.where(within, tg[None, :], -1).max(axis=1)
                values[rows] = np.where(last >= 0, tg - last, np.nan)
            elif kind == "distinct":
                levels = clicks[arg].to_numpy()[rows]
                values[rows] = [len(set(levels[seen])) for seen in today]
            else:  # rate: installs attributed before the click's day over the days' clicks
                before = dg[None, :] < dg[:, None]
                installed = known[rows] // DAY  # NaN: no install
                installs = (installed[None, :] < dg[:, None]).sum(axis=1)
                n = before.sum(axis=1)
                values[rows] = np.where(n > 0, installs / np.maximum(n, 1), np.nan)
        out[name] = values
    return out.sort_values("click_id", ignore_index=True)


def edge_case_log(seed: int = 11) -> pd.DataFrame:
    """~3,000 clicks over three days, keys that repeat, sessions around midnight, and clicks of
    the same user and channel exactly 0, 1, 59, 60, 61, 3599, 3600, 3601, 86399, 86400, 86401 s
    after another; installs some at a day's start exactly, or a second before; the last day
    unlabelled; click ids in no particular order."""
    rng = np.random.default_rng(seed)
    n = 2000
    anchors = np.r_[D0 + rng.integers(0, 3 * DAY, 25), D1 - 30, D2 - 30, D1, D2]
    near = rng.choice(anchors, n) + rng.integers(-300, 300, n)
    spread = D0 + rng.integers(0, 3 * DAY, n)
    df = pd.DataFrame(
        {
            "ip": rng.integers(0, 15, n),
            "app": rng.integers(0, 5, n),
            "device": rng.integers(0, 2, n),
            "os": rng.integers(0, 2, n),
            "channel": rng.integers(0, 6, n),
            "t": np.where(rng.random(n) < 0.6, near, spread),
        }
    )
    midnight = rng.choice([D1, D2], 300) + rng.integers(-90, 90, 300)
    df = pd.concat([df, df.sample(300, random_state=seed).assign(t=midnight)], ignore_index=True)
    steps = np.array([0, 1, 59, 60, 61, 3599, 3600, 3601, 86399, 86400, 86401])
    copies = df.sample(900, random_state=seed).assign(t=lambda d: d["t"] + rng.choice(steps, 900))
    df = pd.concat([df, copies], ignore_index=True)
    df = df[(df["t"] >= D0) & (df["t"] < D3)].reset_index(drop=True)
    df.insert(0, "click_id", rng.permutation(len(df)))
    labelled = df["t"] < D2
    attributed = labelled & (rng.random(len(df)) < 0.08)
    delay = rng.integers(0, 2 * DAY, len(df))
    attributed_t = pd.Series(df["t"] + delay, dtype="Int64").where(attributed)
    # some installs attributed exactly at the start of the next day, some a second before
    at_start = attributed & (rng.random(len(df)) < 0.3)
    next_start = (df["t"] // DAY + 1) * DAY - rng.integers(0, 2, len(df))
    attributed_t = attributed_t.mask(at_start & (next_start >= df["t"]), next_start)
    df["attributed_t"] = attributed_t
    df["is_attributed"] = pd.Series(attributed.astype("int8"), dtype="Int8").where(labelled)
    return df


def test_every_feature_of_every_click_matches_brute_force(connection, tmp_path):
    df = edge_case_log()
    assert {f.name for f in POINT_IN_TIME} == set(SPEC)  # every feature is checked
    got = features_of(connection, write_clicks(df, tmp_path / "c.parquet"))
    expected = brute_force(df)
    assert got["click_id"].tolist() == sorted(df["click_id"])
    assert got["t"].tolist() == expected["t"].tolist()
    assert got["day"].tolist() == expected["day"].tolist()
    assert got["hour"].tolist() == expected["hour"].tolist()
    by_id = df.set_index("click_id").loc[got["click_id"]]
    for column in ("app", "device", "os", "channel"):
        assert got[column].tolist() == by_id[column].tolist()
    np.testing.assert_array_equal(
        got["is_attributed"].to_numpy(dtype=float, na_value=np.nan),
        by_id["is_attributed"].to_numpy(dtype=float, na_value=np.nan),
    )
    for name in SPEC:
        np.testing.assert_array_equal(
            got[name].to_numpy(dtype=float, na_value=np.nan), expected[name], err_msg=name
        )

    # the log holds what the brute force is meant to settle
    assert df.duplicated([*USER_APP, "t"], keep=False).sum() > 100  # same-second ties
    for edge in (60, 3600, 86400):  # a click of the same user exactly `edge` s earlier
        earlier = df[[*USER_APP, "t"]].drop_duplicates().assign(t=lambda d, e=edge: d["t"] + e)
        assert len(df.merge(earlier, on=[*USER_APP, "t"])) > 10, edge
    assert (expected["n_user_app_1m"] > 0).sum() > 100
    midnight = (expected["t"] % DAY < 60) & (expected["n_ip_1m"] > expected["n_ip_today"])
    assert midnight.sum() > 10  # windows reaching into the day before
    assert (expected["gap_user_app"] > 0).sum() > 100 and expected["gap_user_app"].isna().any()
    installs = df["attributed_t"].dropna()
    assert (installs % DAY == 0).sum() > 5 and (installs % DAY == DAY - 1).sum() > 5
    assert df["is_attributed"].isna().sum() > 100 and expected["rate_app"].notna().sum() > 1000


# ---------------------------------------------------------------- deleting the future


@pytest.fixture(scope="module")
def log(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame]:
    """A prepared generated log (two days, ~40,000 clicks) and its features."""
    root = tmp_path_factory.mktemp("clicks")
    settings = ClickSettings(n_clicks=40_000, days=2, incoming_days=0)
    write_click_log(settings, root / "raw", root / "truth", root / "incoming")
    with engine.connect(engine.EngineSettings("1GB", str(root / "spill"), 1)) as connection:
        files = {"log": input_files(root / "raw", "clicks.raw_path")}
        prepare(connection, ROLES, files, root / "clicks.parquet", root / "quarantine.parquet")
        full = features_of(connection, engine.parquet_source([root / "clicks.parquet"]))
    return root / "clicks.parquet", full


def cut_times(clicks: pd.DataFrame) -> list[int]:
    """Seeded random cut times, and the cuts that matter: at a second where one user's clicks tie
    and the second before it, at and just before midnight, and between an install's click and its
    attribution on the next day."""
    rng = np.random.default_rng(2017)
    t = clicks["t"]
    cuts = sorted(rng.integers(t.min(), t.max(), 8).tolist())
    ties = clicks[clicks.duplicated([*USER_APP, "t"], keep=False)]["t"]
    tie = int(ties.iloc[len(ties) // 2])
    attributed = clicks["attributed_t"]
    crossing = attributed[(attributed // DAY > clicks["t"] // DAY) & (attributed % DAY > 1)]
    late = int(crossing.iloc[0]) - int(crossing.iloc[0]) % DAY // 2  # that day, before it
    return [*cuts, tie, tie - 1, D1 - 1, D1, late]


def changed_columns(
    connection, source: str, full: pd.DataFrame, cut: int, *, where: str, features=POINT_IN_TIME
) -> list[str]:
    """The feature columns whose values at clicks at or before `cut` differ once the clicks
    outside `where` are gone."""
    truncated = features_of(connection, source, features, where)
    past = full[full["t"] <= cut].reset_index(drop=True)
    assert truncated["click_id"].tolist() == past["click_id"].tolist()
    return [
        name
        for name in past.columns
        if not np.array_equal(
            truncated[name].to_numpy(dtype=float, na_value=np.nan),
            past[name].to_numpy(dtype=float, na_value=np.nan),
            equal_nan=True,
        )
    ]


def test_deleting_every_click_after_a_cut_leaves_the_past_unchanged(log, connection):
    path, full = log
    source = engine.parquet_source([path])
    clicks = pd.read_parquet(path)
    cuts = cut_times(clicks)
    ties = clicks.duplicated([*USER_APP, "t"], keep=False)
    assert (clicks.loc[ties, "t"] == cuts[8]).sum() >= 2  # the tie is kept whole by its cut
    for cut in cuts:
        # an install clicked before the cut stays with its later attributed_time (rows go by
        # click_time): the rates read installs attributed before the click's day only, so it
        # changes nothing at or before the cut ...
        kept = changed_columns(connection, source, full, cut, where=f"t <= {cut}")
        assert kept == [], cut
        # ... and neither does forgetting the installs attributed after the cut too
        forgotten = (
            f"(SELECT * REPLACE (CASE WHEN attributed_t <= {cut} THEN attributed_t END "
            f"AS attributed_t) FROM {source} WHERE t <= {cut})"
        )
        known = changed_columns(connection, forgotten, full, cut, where="TRUE")
        assert known == [], cut
    late = cuts[-1]
    assert ((clicks["t"] <= late) & (clicks["attributed_t"] > late)).any()


def test_the_same_check_catches_the_leaky_features(log, connection):
    path, _ = log
    source = engine.parquet_source([path])
    clicks = pd.read_parquet(path, columns=["click_id", *USER_APP, "t", "attributed_t"])
    leaky = features_of(connection, source, LEAKY)
    caught: set[str] = set()
    for cut in cut_times(clicks):
        changed = changed_columns(
            connection, source, leaky, cut, where=f"t <= {cut}", features=LEAKY
        )
        assert set(changed) <= {f.name for f in LEAKY}
        caught |= set(changed)
    assert caught == {f.name for f in LEAKY}


def test_features_do_not_depend_on_the_rows_storage_order(log, tmp_path):
    path, full = log
    table = pq.read_table(path)
    shuffled = table.take(np.random.default_rng(5).permutation(table.num_rows))
    pq.write_table(shuffled, tmp_path / "shuffled.parquet", row_group_size=3000)
    settings = engine.EngineSettings("1GB", str(tmp_path / "spill"), 2)
    with engine.connect(settings) as connection:
        source = engine.parquet_source([tmp_path / "shuffled.parquet"])
        again = features_of(connection, source)
        leaky_again = features_of(connection, source, LEAKY)
        leaky = features_of(connection, engine.parquet_source([path]), LEAKY)
    assert shuffled["click_id"].to_pylist() != sorted(shuffled["click_id"].to_pylist())
    pd.testing.assert_frame_equal(again, full)
    pd.testing.assert_frame_equal(leaky_again, leaky)


def test_a_day_streams_in_the_files_click_order_in_batches_of_fixed_size(connection, tmp_path):
    path = tmp_path / "features.parquet"
    pq.write_table(
        pa.table({"click_id": np.arange(1_000), "day": np.repeat([1, 2], 500)}),
        path,
        row_group_size=170,  # the engine's chunks follow the file's row groups, not the batches
    )
    query = f"SELECT click_id FROM {engine.quoted(path)} WHERE day = 2"
    streamed = list(engine.in_file_order(connection, query, rows=200))
    assert [b.num_rows for b in streamed] == [200, 200, 100]
    ids = np.concatenate([b.column("click_id").to_numpy() for b in streamed])
    assert np.array_equal(ids, np.arange(500, 1_000))
    with pytest.raises(ValueError, match=r"out of click_id order.*dvc repro clicks_features"):
        list(engine.in_file_order(connection, f"{query} ORDER BY click_id DESC", rows=200))

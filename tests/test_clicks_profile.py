"""The click log's data profile, computed by the engine: its numbers against pandas on a small
generated log, the page and warnings drawn from it, a TalkingData-shaped CSV with bad rows, and the
estimates a large log gets (forced here on a small one)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from leadsift.clicks import data_profile, engine
from leadsift.clicks.cleaning import input_files
from leadsift.clicks.data_profile import profile_log
from leadsift.clicks.schema import IDS, ClickRoles
from leadsift.clicks.synth import ClickSettings, write_click_log
from leadsift.core.io import InputError
from leadsift.core.profile import OTHER_LEVELS, ProfileSettings, wilson
from leadsift.core.profile_diff import compare_profiles
from leadsift.core.profile_findings import findings, warning_lines
from leadsift.core.profile_report import write_profile

SETTINGS = ProfileSettings(top_levels=5)
ROLES = ClickRoles(
    ip="ip", app="app", device="device", os="os", channel="channel", click_time="click_time",
    attributed_time="attributed_time", is_attributed="is_attributed", click_id="click_id",
)  # fmt: skip
TALKINGDATA = ClickRoles(**(vars(ROLES) | {"click_id": None, "time_format": "%Y-%m-%d %H:%M:%S"}))
BAD_CSV = """ip,app,device,os,channel,click_time,attributed_time,is_attributed
83230,3,1,13,379,2017-11-06 14:32:21,,0
17357,3,1,19,379,2017-11-06 14:33:34,,0
-45745,14,1,13,478,2017-11-06 14:34:52,,0
161007,abc,1,13,379,2017-11-06 14:35:08,,0
18787,3,1,16,379,2017-11-06 25:61:00,,0
103022,3,1,23,379,2017-11-06 14:37:44,2017-11-06 15:01:02,1
114221,3,1,19,379,2017-11-07 09:37:44,,1
83230,3,1,13,379,2017-11-06 14:32:21,,0
,3,1,13,379,2017-11-08 01:00:00,,2
"""


def profile(files: list[Path], roles: ClickRoles, tmp: Path) -> dict:
    settings = engine.EngineSettings("1GB", str(tmp / "spill"), 2)
    with engine.connect(settings) as connection:
        return profile_log(connection, roles, files, SETTINGS)


@pytest.fixture(scope="module")
def log(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame, dict]:
    root = tmp_path_factory.mktemp("clicks")
    settings = ClickSettings(n_clicks=60_000, days=2, incoming_days=0)
    write_click_log(settings, root / "raw", root / "truth", root / "incoming")
    files = input_files(root / "raw", "clicks.raw_path")
    clicks = pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)
    return root, clicks, profile(files, ROLES, root)


def ranked(values: pd.Series) -> list[tuple[int, int]]:
    """(level, clicks), most clicks first, then by level: the profile's order."""
    return sorted(values.value_counts().items(), key=lambda kv: (-kv[1], kv[0]))


def test_table_and_ids_match_pandas(log):
    _, clicks, p = log
    assert p["input"] == "clicks"
    assert p["table"] | {"memory_mb": 0} == {
        "rows": len(clicks), "columns": 9, "duplicate_rows": 0, "memory_mb": 0,
    }  # fmt: skip
    assert list(p["columns"]) == ["click_id", *IDS, "click_time"]  # the target is apart
    assert p["absent"] == {} and p["estimated"] == {} and p["contract"]["rows"] == 0
    assert p["columns"]["click_id"] | {"role": None} == {
        "role": None, "kind": "id", "unique": True, "missing": 0.0, "unparseable": 0,
        "distinct": clicks["click_id"].nunique(), "repeated": 0,
        "rows_per_value": {"mean": 1.0, "max": 1},
    }  # fmt: skip
    for role in IDS:
        s, values = p["columns"][role], clicks[role]
        order = ranked(values)
        assert (s["kind"], s["role"], s["missing"]) == ("category", f"clicks.{role}", 0.0)
        assert s["distinct"] == values.nunique()
        assert s["top"] == [{"level": str(k), "share": n / len(values)} for k, n in order[:20]]
        shares = np.cumsum([n for _, n in order]) / len(values)
        expected = int(np.searchsorted(shares, SETTINGS.coverage - 1e-12) + 1)
        assert s["levels_to_coverage"] == expected
        assert s["unparseable"] == s["impossible"] == 0


def test_target_against_pandas(log):
    _, clicks, p = log
    y = clicks["is_attributed"]
    assert p["target"]["labelled"] == len(clicks)
    assert p["target"]["rate"] == pytest.approx(y.mean())
    assert p["target"]["attributed"] == y.sum()
    delay = (clicks["attributed_time"] - clicks["click_time"]).dt.total_seconds().dropna()
    quantiles = delay.quantile([0, 0.01, 0.25, 0.5, 0.75, 0.99, 1]).tolist()
    assert list(p["target"]["delay_seconds"].values()) == pytest.approx(quantiles)
    for role in IDS:
        s = p["columns"][role]
        top = [k for k, _ in ranked(clicks[role])[: SETTINGS.top_levels]]
        group = clicks[role].where(clicks[role].isin(top), -1)
        per = y.groupby(group).agg(["size", "sum"])
        expected = [(str(k), *per.loc[k]) for k in top] + [(OTHER_LEVELS, *per.loc[-1])]
        assert [(r["level"], r["rows"], r["rate"] * r["rows"]) for r in s["rates"]] == [
            (level, n, pytest.approx(pos)) for level, n, pos in expected
        ]
        bounds = wilson(per.loc[[*top, -1], "sum"], per.loc[[*top, -1], "size"], 0.95)
        np.testing.assert_allclose([[r["low"], r["high"]] for r in s["rates"]], bounds, atol=1e-12)
        score = y.groupby(clicks[role]).transform("mean")
        auc = roc_auc_score(y, score)
        assert s["auc"] == pytest.approx(max(auc, 1 - auc)) and s["direction"] == 1


def test_time_against_pandas(log):
    _, clicks, p = log
    s = p["columns"]["click_time"]
    times = clicks["click_time"]
    assert (s["first"], s["last"]) == (str(times.min()), str(times.max()))
    assert (s["missing"], s["unparseable"], s["empty_days"], s["longest_gap"]) == (0, 0, 0, 0)
    assert s["weeks"] == {"2017-11-06": len(clicks)}  # a Monday
    hours = clicks["click_time"].dt.floor("h").value_counts()
    assert s["timeline"]["unit"] == "hour" and len(s["timeline"]["rows"]) == 48
    assert s["timeline"]["rows"] == {k.strftime("%Y-%m-%dT%H"): v for k, v in hours.items()}


def test_page_warnings_and_diff_read_it(log, tmp_path):
    root, _, p = log
    write_profile(tmp_path, p, str(root / "raw"), SETTINGS.top_levels)
    page = (tmp_path / "clicks.md").read_text()
    assert "## Against the target" in page and "attributed rate" in page and "genuine" not in page
    assert "From click to install" in page
    figures = {f.name for f in (tmp_path / "clicks").iterdir()}
    assert figures == {"timeline.png", "categories.png", "target.png"}
    assert findings(p, SETTINGS) == p["findings"]  # nothing but the shared findings here
    assert warning_lines(p["findings"]) == p["warnings"]
    written = json.loads((tmp_path / "clicks.json").read_text())
    assert compare_profiles(written, written)["changes"] == []
    moved = json.loads(json.dumps(written))
    moved["columns"]["app"]["missing"] = 0.2
    assert compare_profiles(written, moved)["changes"][0]["column"] == "app"


def test_talkingdata_csv_with_bad_rows(tmp_path):
    (tmp_path / "train.csv").write_text(BAD_CSV)
    p = profile([tmp_path / "train.csv"], TALKINGDATA, tmp_path)
    c = p["columns"]
    assert p["table"]["rows"] == 9 and p["table"]["duplicate_rows"] == 1
    assert "click_id" not in c and p["absent"] == {}
    assert (c["ip"]["impossible"], c["ip"]["missing"]) == (1, pytest.approx(1 / 9))  # -45745, ""
    assert (c["app"]["unparseable"], c["app"]["missing"]) == (1, pytest.approx(1 / 9))  # abc
    assert c["click_time"]["unparseable"] == 1 and c["click_time"]["first"] == "2017-11-06 14:32:21"
    assert p["target"]["labelled"] == 8 and p["target"]["attributed"] == 2  # "2" is no label
    assert p["contract"]["reasons"] == {
        "app not a whole number": 1, "click_time not a time": 1,
        "is_attributed 1 without attributed_time": 1, "is_attributed not 0 or 1": 1,
        "missing ip": 1, "negative ip": 1,
    }  # fmt: skip
    warnings = "\n".join(p["warnings"])
    for expected in ("exact duplicate rows: 1", "ip: impossible values", "app: values that are "
                     "not numbers", "click_time: values that are not times", "rows that break "
                     "the contract: 5"):  # fmt: skip
        assert expected in warnings
    write_profile(tmp_path / "out", p, "train.csv", SETTINGS.top_levels)
    assert "5 rows (55.56%) break the contract" in (tmp_path / "out" / "clicks.md").read_text()


def test_absent_and_unlabelled(tmp_path):
    rows = [line.split(",") for line in BAD_CSV.splitlines()]
    (tmp_path / "train.csv").write_text("".join(",".join(r[:4] + r[5:6]) + "\n" for r in rows))
    roles = ClickRoles(**(vars(TALKINGDATA) | {"attributed_time": None, "is_attributed": None}))
    p = profile([tmp_path / "train.csv"], roles, tmp_path)
    assert p["absent"] == {"channel": "clicks.channel"} and "channel" not in p["columns"]
    assert "target" not in p and "rates" not in p["columns"]["app"]
    assert "channel: declared but not in the file (`clicks.channel`)" in p["warnings"]
    write_profile(tmp_path / "out", p, "train.csv", SETTINGS.top_levels)


def test_a_large_log_gets_estimates(log, tmp_path, monkeypatch):
    """Past SLICE_ROWS rows duplicates are counted in one hash slice and scaled; past
    BITMAP_RANGE, click_id repeats too: forced here on the small log, with exact answers known."""
    _, clicks, _ = log
    doubled = tmp_path / "raw"
    doubled.mkdir()
    head = pd.concat([clicks, clicks.head(6_000)], ignore_index=True)  # 6,000 repeated rows
    head.to_parquet(doubled / "log.parquet")
    monkeypatch.setattr(data_profile, "SLICE_ROWS", 10_000)
    monkeypatch.setattr(data_profile, "BITMAP_RANGE", 1_000)
    p = profile([doubled / "log.parquet"], ROLES, tmp_path)
    assert set(p["estimated"]) == {"click_id.repeated", "duplicate_rows"}
    assert p["columns"]["click_id"]["repeated"] == pytest.approx(6_000, rel=0.25)
    assert p["table"]["duplicate_rows"] == pytest.approx(6_000, rel=0.25)
    assert p["columns"]["click_id"]["rows_per_value"]["max"] == 2
    assert any(n.startswith("Estimated, not counted: click_id.repeated") for n in p["notes"])


def test_an_empty_or_unreadable_log_stops_with_one_line(tmp_path):
    (tmp_path / "empty.csv").write_text(BAD_CSV.splitlines()[0] + "\n")
    with pytest.raises(InputError, match="holds no clicks"):
        profile([tmp_path / "empty.csv"], TALKINGDATA, tmp_path)
    (tmp_path / "broken.parquet").write_bytes(b"not parquet at all")
    with pytest.raises(InputError, match="cannot read"):
        profile([tmp_path / "broken.parquet"], ROLES, tmp_path)

"""End to end, the clicks pipeline: the embedded log through every stage (in the project's small
build), and a team's own click log in TalkingData's exact shape, by config roles alone."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from leadsift.clicks.synth import ClickSettings, generate_hours
from tests.repo import Repo

pytestmark = pytest.mark.e2e

TALKINGDATA = ["ip", "app", "device", "os", "channel", "click_time", "attributed_time",
               "is_attributed"]  # fmt: skip


def read(repo: Repo, name: str) -> dict:
    return json.loads((repo.path / "reports" / name).read_text())


def test_the_embedded_log_is_accounted_for_and_judged_against_its_ceiling(baseline):
    repo = baseline.repo
    data = read(repo, "clicks/data.json")
    for part in ("log", "incoming"):
        counts = data[part]
        assert counts["rows_in"] == counts["rows_clean"] + counts["rows_quarantined"] > 0
    evaluation = read(repo, "clicks/evaluation.json")
    assert evaluation["clicks"] > 0 and evaluation["attributed"] > 0
    assert 0.85 < evaluation["ratios"]["roc_auc"] <= 1.01  # a small log: near, not at, the ceiling
    assert evaluation["model"]["roc_auc"] < evaluation["ceiling"]["roc_auc"] + 0.01
    leak = read(repo, "clicks/leak.json")
    assert leak["leaky_roc_auc"] > leak["point_in_time_roc_auc"]  # the future leaks the label
    scoring = read(repo, "clicks/scoring.json")
    scored = sum(day["clicks_scored"] for day in scoring["days"])
    assert scored == data["incoming"]["rows_clean"] == scoring["rows"]["rows_clean"]
    drift = read(repo, "clicks/drift.json")
    assert set(drift["batches"]) == {day["day"] for day in scoring["days"]}
    assert "labels" in next(iter(drift["batches"].values()))  # the generated later day has them
    headline = read(repo, "metrics.json")
    assert {"clicks_roc_auc", "clicks_ceiling_share", "clicks_installs_ratio"} <= set(headline)
    assert "# Clicks: attribution" in (repo.path / "reports/report.md").read_text()


def talkingdata_csv(hours: list, *, labelled: bool) -> pd.DataFrame:
    """Generated clicks written as TalkingData's CSV: its columns and order, times as text,
    `attributed_time` blank when not attributed; without labels, as its test file."""
    table = pd.concat([hour.table.to_pandas() for hour in hours], ignore_index=True)
    out = table[TALKINGDATA].astype(str)
    out["click_time"] = table["click_time"].dt.strftime("%Y-%m-%d %H:%M:%S")
    attributed = table["attributed_time"].dt.strftime("%Y-%m-%d %H:%M:%S")
    out["attributed_time"] = attributed.where(table["attributed_time"].notna(), "")
    return out if labelled else out.drop(columns=["attributed_time", "is_attributed"])


def test_a_talkingdata_csv_runs_end_to_end_by_config_roles_alone(baseline, tmp_path):
    repo = Repo.copy_of(baseline.repo, tmp_path / "own_clicks")
    settings = ClickSettings(n_clicks=160_000, start="2017-11-06", days=4, incoming_days=1)
    hours = list(generate_hours(settings))
    log = talkingdata_csv([h for h in hours if not h.incoming], labelled=True)
    later = talkingdata_csv([h for h in hours if h.incoming], labelled=False)
    bad = log.head(4).copy()
    bad.loc[bad.index[0], "ip"] = "-1"
    bad.loc[bad.index[1], "click_time"] = "2017-11-06 25:61:00"
    bad.loc[bad.index[2], ["attributed_time", "is_attributed"]] = ["2017-11-05 00:00:00", "1"]
    bad.loc[bad.index[3], "is_attributed"] = "2"
    own = repo.path / "data/own/clicks"
    (own / "later").mkdir(parents=True)
    pd.concat([log, bad]).to_csv(own / "train.csv", index=False)
    later.to_csv(own / "later/2017-11-10.csv", index=False)
    assert (own / "train.csv").read_text().splitlines()[0] == ",".join(TALKINGDATA)
    repo.update_params(
        {"clicks.raw_path": "data/own/clicks/train.csv", "clicks.incoming": "data/own/clicks/later",
         "clicks.click_id": None}
    )  # fmt: skip
    repo.commit("own click log")
    ran = repo.repro()
    assert {"clicks_prepare", "clicks_features", "clicks_train", "clicks_score"} <= set(ran)
    data = read(repo, "clicks/data.json")
    assert data["log"]["rows_in"] == len(log) + 4 and data["log"]["rows_quarantined"] == 4
    assert data["log"]["reasons"] == {
        "negative ip": 1,
        "click_time not a time": 1,
        "attributed_time before click_time": 1,
        "is_attributed not 0 or 1": 1,
    }
    assert data["incoming"]["rows_in"] == data["incoming"]["rows_clean"] == len(later)
    evaluation = read(repo, "clicks/evaluation.json")
    assert "ceiling" not in evaluation and 0.85 < evaluation["model"]["roc_auc"] < 1
    assert sum(day["clicks_scored"] for day in read(repo, "clicks/scoring.json")["days"]) == len(
        later
    )
    drift = read(repo, "clicks/drift.json")
    assert all("labels" not in entry for entry in drift["batches"].values())  # none in its file
    profile = read(repo, "profile/clicks.json")
    assert profile["table"]["rows"] == len(log) + 4


def test_switching_the_engine_to_spark_changes_no_output(baseline, tmp_path):
    """The feature and scoring stages rerun on Spark (local mode) and write the same bytes, so
    DVC reruns nothing after them."""
    repo = Repo.copy_of(baseline.repo, tmp_path / "on_spark")
    before = repo.lock_outs()
    repo.update_params({"clicks_engine.engine": "spark", "clicks_engine.spark_memory": "1g"})
    repo.commit("the clicks on Spark")
    assert set(repo.repro()) == {"clicks_features", "clicks_score"}
    assert repo.lock_outs() == before

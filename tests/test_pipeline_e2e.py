"""End to end: the real `dvc repro` on a small embedded dataset in a fresh git repository."""

from __future__ import annotations

import json
import sqlite3

import pandas as pd
import pytest
import yaml

from tests.repo import Repo

pytestmark = pytest.mark.e2e
STAGES = [
    "generate",
    "generate_incoming",
    "prepare",
    "featurize",
    "split",
    "tune",
    "train",
    "evaluate",
    "register",
    "monitor",
    "report",
    "score",
]
TRIALS = "reports/tuning/trials.csv"  # its duration_s column is wall time, on purpose


@pytest.fixture(scope="module")
def built(baseline) -> tuple[Repo, list[str], dict[str, str]]:
    return baseline.repo, baseline.ran, baseline.outs


def test_repro_runs_every_stage_and_creates_every_out(built):
    repo, ran, outs = built
    assert sorted(ran) == sorted(STAGES)
    dvc_yaml = yaml.safe_load((repo.path / "dvc.yaml").read_text())
    declared = []
    for stage in dvc_yaml["stages"].values():
        for kind in ("outs", "metrics", "plots"):
            declared += [next(iter(o)) if isinstance(o, dict) else o for o in stage.get(kind, [])]
    assert set(declared) == set(outs)
    for path in declared:
        target = repo.path / path
        assert target.exists(), path
        assert target.is_dir() or target.stat().st_size > 0, path
    figures = sorted(p.name for p in (repo.path / "reports/figures").iterdir())
    assert figures == [
        "calibration.png",
        "confusion.png",
        "gains.png",
        "importance.png",
        "pr.png",
        "roc.png",
    ]


def test_model_is_good_and_close_to_the_bayes_ceiling(built):
    repo, _, _ = built
    metrics = json.loads((repo.path / "reports/evaluation.json").read_text())
    test = metrics["test"]
    assert test["roc_auc"] > 0.8
    assert test["roc_auc"] >= 0.94 * test["bayes_roc_auc"]
    assert test["log_loss"] < test["prior"]["log_loss"] and test["brier"] < test["prior"]["brier"]
    business = metrics["business"]
    assert business["junk_filtered"] > 0.3 and business["genuine_recall"] > 0.9


def test_row_accounting_is_reported(built):
    repo, _, _ = built
    data = json.loads((repo.path / "reports/data.json").read_text())
    assert data["rows_in"] == data["rows_clean"] + data["rows_duplicate"] + data["rows_quarantined"]
    assert data["rows_duplicate"] > 0 and data["rows_quarantined"] > 0
    assert sum(data["quarantine_reasons"].values()) >= data["rows_quarantined"]


def mlflow_runs(repo: Repo) -> list[tuple[str, str]]:
    with sqlite3.connect(repo.path / "mlflow.db") as db:
        return db.execute("select name, status from runs order by start_time").fetchall()


def test_noop_repro_reruns_nothing_and_logs_no_run(built):
    repo, _, _ = built
    runs = mlflow_runs(repo)
    assert repo.repro() == []
    assert "up to date" in repo.run("dvc", "status").stdout
    assert mlflow_runs(repo) == runs


def test_runs_are_tracked_and_the_first_model_becomes_champion(built):
    repo, _, _ = built
    assert mlflow_runs(repo) == [("tune", "FINISHED"), ("train", "FINISHED")]
    promotion = json.loads((repo.path / "reports/promotion.json").read_text())
    assert (promotion["decision"], promotion["alias"], promotion["version"]) == (
        "promoted",
        "champion",
        "1",
    )
    assert promotion["applied"] and promotion["promotion"]["why"] == "workspace of main"
    scoring = json.loads((repo.path / "reports/scoring.json").read_text())
    assert list(scoring["batches"]) == ["2026-01", "2026-02", "2026-03"]
    for name, batch in scoring["batches"].items():
        assert (
            batch["rows_in"]
            == batch["rows_clean"] + batch["rows_duplicate"] + batch["rows_quarantined"]
        )
        sales = pd.read_csv(repo.path / f"data/scored/sales/{name}.csv")
        assert len(sales) == batch["rows_clean"] and sales["lead_score"].between(0, 100).all()


def test_the_monitor_reads_every_batch_and_its_labels(built):
    repo = built[0]
    drift = json.loads((repo.path / "reports/drift.json").read_text())
    assert list(drift["batches"]) == ["2026-01", "2026-02", "2026-03"]
    assert drift["retrain_recommended"] == bool(drift["reasons"])
    for batch in drift["batches"].values():
        assert batch["labels"]["rows"] == batch["rows"]  # every scored lead's label has arrived
        assert set(batch["features"]) >= {"utm_source", "platform", "interactions_total"}
    table = pd.read_csv(repo.path / "reports/monitor/drift.csv")
    assert len(table) == 3 * (len(batch["features"]) + 1)
    assert (repo.path / "reports/monitor/drift.png").read_bytes().startswith(b"\x89PNG")
    assert "## Incoming batches" in (repo.path / "reports/report.md").read_text()


def test_only_headline_numbers_are_dvc_metrics(built):
    repo = built[0]
    shown = json.loads(repo.run("dvc", "metrics", "show", "--json").stdout)
    (workspace,) = shown.values()
    headline = workspace["data"]["reports/metrics.json"]["data"]
    assert list(workspace["data"]) == ["reports/metrics.json"]
    assert list(headline) == ["roc_auc", "bayes_share", "pr_auc", "junk_filtered", "drift_alerts"]


@pytest.mark.parametrize(
    ("change", "reruns"),
    [
        (  # a knob in params.yaml (business.min_genuine_recall: test_sharing_e2e)
            {"incoming.drift.platform_shift": 0.5},
            ["generate_incoming", "monitor", "report", "score"],
        ),
        ({"monitor.psi_alert": 0.05}, ["monitor", "report"]),  # config.yaml
        ({"evaluate.importance_repeats": 3}, ["evaluate"]),  # config.yaml: the figures only
    ],
)
def test_a_param_change_reruns_only_its_stage_and_what_follows(built, tmp_path, change, reruns):
    copy = Repo.copy_of(built[0], tmp_path / "copy")
    copy.update_params(change)
    assert sorted(copy.repro()) == reruns


def test_two_clean_runs_write_identical_outputs(built, tmp_path):
    first_repo, _, first = built
    second = Repo(tmp_path / "again")
    second.repro()
    outs = second.lock_outs()
    assert {k: v for k, v in outs.items() if k != TRIALS} == {
        k: v for k, v in first.items() if k != TRIALS
    }
    trials = [pd.read_csv(r.path / TRIALS).drop(columns="duration_s") for r in (first_repo, second)]
    pd.testing.assert_frame_equal(*trials)

"""`dvc exp run` variants and a queued grid, compared via `dvc exp show --json` and compare."""

from __future__ import annotations

import json
import sqlite3
import time

import pytest

from leadsift.compare import experiment_rows, format_table
from tests.repo import Repo

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def repo(baseline, tmp_path_factory) -> Repo:
    return Repo.copy_of(baseline.repo, tmp_path_factory.mktemp("exp") / "repo")


def experiments(repo: Repo) -> dict[str, dict]:
    """Name -> {family, roc_auc, error} for every experiment of the current commit."""
    shown = json.loads(repo.run("dvc", "exp", "show", "--json").stdout)
    found = {}
    for baseline in shown:
        for experiment in baseline.get("experiments") or []:
            for rev in experiment["revs"]:
                data = rev.get("data") or {}
                params = data["params"]["params.yaml"]["data"]
                metrics = (
                    (data.get("metrics") or {}).get("reports/metrics.json", {}).get("data", {})
                )
                found[rev["name"]] = {
                    "family": params["model"]["family"],
                    "trials": params["tune"]["n_trials"],
                    "roc_auc": (metrics.get("test") or {}).get("roc_auc"),
                    "error": rev.get("error"),
                }
    return found


def test_single_variants_run_and_show_their_metrics(repo):
    repo.run("dvc", "exp", "run", "-n", "linear", "-S", "model.family=logistic_regression")
    repo.run("dvc", "exp", "run", "-n", "forest", "-S", "model.family=random_forest")
    shown = experiments(repo)
    assert shown["linear"]["family"] == "logistic_regression"
    assert shown["forest"]["family"] == "random_forest"
    for name in ("linear", "forest"):
        assert shown[name]["error"] is None
        assert 0.7 < shown[name]["roc_auc"] < 1.0
    # The experiments ran in temporary copies, yet their MLflow runs are in this repository's store.
    with sqlite3.connect(repo.path / "mlflow.db") as db:
        tagged = db.execute(
            "select r.name, t.value from runs r join tags t on t.run_uuid = r.run_uuid "
            "where t.key = 'leadsift.dvc_experiment'"
        ).fetchall()
    assert {("train", "linear"), ("train", "forest"), ("tune", "forest")} <= set(tagged)


def test_a_queued_grid_completes(repo):
    repo.run(
        "dvc",
        "exp",
        "run",
        "--queue",
        "-S",
        "model.family=logistic_regression,random_forest",
        "-S",
        "tune.n_trials=2",
    )
    repo.run("dvc", "queue", "start", "-j", "1")
    deadline = time.monotonic() + 600
    try:
        while time.monotonic() < deadline:
            status = repo.run("dvc", "queue", "status").stdout
            if "Queued" not in status and "Running" not in status:
                break
            time.sleep(3)
        else:
            pytest.fail(f"queue still busy after 10 minutes:\n{status}")
    finally:
        repo.run("dvc", "queue", "stop", "--kill", check=False)
    assert status.count("Success") == 2, status
    grid = {name: e for name, e in experiments(repo).items() if e["trials"] == 2}
    assert sorted(e["family"] for e in grid.values()) == ["logistic_regression", "random_forest"]
    assert all(e["roc_auc"] and e["roc_auc"] > 0.7 for e in grid.values())


def test_compare_ranks_every_experiment_best_first(repo):
    rows = experiment_rows(json.loads(repo.run("dvc", "exp", "show", "--json").stdout))
    scores = [r["test roc_auc"] for r in rows]
    assert len(rows) >= 3 and scores == sorted(scores, reverse=True)
    table = format_table(rows)
    assert table.splitlines()[0].startswith("name") and "random_forest" in table

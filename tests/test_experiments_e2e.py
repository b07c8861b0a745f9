"""`dvc exp run` variants of each pipeline and a queued grid: readable in `dvc exp show`, compared
by compare, and never moving the champion."""

from __future__ import annotations

import json
import re
import sqlite3
import sys

import pytest

from leadsift.compare import VIEWS, experiment_rows, format_table
from tests.repo import Repo

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def repo(baseline, tmp_path_factory) -> Repo:
    return Repo.copy_of(baseline.repo, tmp_path_factory.mktemp("exp") / "repo")


def experiments(repo: Repo) -> dict[str, dict]:
    """Name -> {rev, family, trials, max_levels, roc_auc, error} for this commit's experiments."""
    shown = json.loads(repo.run("dvc", "exp", "show", "--json").stdout)
    found = {}
    for baseline in shown:
        for experiment in baseline.get("experiments") or []:
            for rev in experiment["revs"]:
                data = rev.get("data") or {}
                params = data["params"]["params.yaml"]["data"]
                setup = data["params"]["config.yaml"]["data"]
                metrics = (data.get("metrics") or {}).get("reports/metrics.json", {}).get("data")
                found[rev["name"]] = {
                    "rev": rev["rev"],
                    "family": params["model"]["family"],
                    "trials": params["tune"]["n_trials"],
                    "max_levels": setup["train_setup"]["max_levels"],
                    "roc_auc": (metrics or {}).get("roc_auc"),
                    "error": rev.get("error"),
                }
    return found


CHAMPIONS_OF_MAIN = [
    ("leadsift-click-attribution", 1, "champion"),
    ("leadsift-customer-segments", 1, "champion"),
    ("leadsift-junk-lead", 1, "champion"),
]


def champion_versions(repo: Repo) -> list[tuple[str, int, str]]:
    """(model, version, alias) rows of the registry in the repository's own MLflow store."""
    with sqlite3.connect(repo.path / "mlflow.db") as db:
        return db.execute(
            "select v.name, v.version, a.alias from model_versions v "
            "left join registered_model_aliases a on a.name = v.name and a.version = v.version "
            "order by v.name, v.version"
        ).fetchall()


def test_a_variant_records_what_the_gate_would_do_and_registers_nothing(repo):
    assert champion_versions(repo) == CHAMPIONS_OF_MAIN
    repo.run(
        "dvc", "exp", "run", "-n", "linear", "-S", "model.family=logistic_regression",
        "-S", "config.yaml:train_setup.max_levels=20",
    )  # fmt: skip
    linear = experiments(repo)["linear"]
    assert (linear["family"], linear["max_levels"], linear["error"]) == (
        "logistic_regression",
        20,
        None,
    )
    assert 0.7 < linear["roc_auc"] < 1.0
    promotion = json.loads(
        repo.run("git", "show", f"{linear['rev']}:reports/promotion.json").stdout
    )
    assert not promotion["applied"] and promotion["promotion"]["why"] == "DVC experiment linear"
    assert champion_versions(repo) == CHAMPIONS_OF_MAIN


def test_a_queued_grid_completes_and_logs_to_this_store(repo):
    repo.run(
        "dvc", "exp", "run", "--queue", "-S", "model.family=random_forest,hist_gradient_boosting",
        "-S", "tune.n_trials=3",
    )  # fmt: skip
    status = repo.run_queue(workers=1)
    assert status.count("Success") == 2, status
    grid = {name: e for name, e in experiments(repo).items() if e["trials"] == 3}
    assert sorted(e["family"] for e in grid.values()) == ["hist_gradient_boosting", "random_forest"]
    # deterministic runs (3 trials each): pinned within float noise
    scores = {e["family"]: e["roc_auc"] for e in grid.values()}
    assert scores == {
        "hist_gradient_boosting": pytest.approx(0.8688, abs=0.003),
        "random_forest": pytest.approx(0.8654, abs=0.003),
    }
    # Queued experiments run in temporary copies, yet their runs are in this repository's store,
    # and none of them moved the champion.
    with sqlite3.connect(repo.path / "mlflow.db") as db:
        tagged = db.execute(
            "select r.name, t.value from runs r join tags t on t.run_uuid = r.run_uuid "
            "where t.key = 'leadsift.dvc_experiment'"
        ).fetchall()
    assert {(stage, name) for name in grid for stage in ("leads_tune", "leads_train")} <= set(
        tagged
    )
    assert champion_versions(repo) == CHAMPIONS_OF_MAIN


def test_exp_show_is_readable_in_a_200_column_terminal(repo):
    """The headline numbers and the params the variants changed are shown with their values (the
    plain table also has a column per declared dependency, about fifty files: see README)."""
    command = ["dvc", "exp", "show", "--no-pager", "--only-changed"]
    table = repo.run(*command, env={"COLUMNS": "200"}).stdout
    lines = table.splitlines()
    header = next(line for line in lines if "Experiment" in line)
    wanted = ["roc_auc", "bayes_share", "pr_auc", "junk_filtered", "model.family", "tune.n_trials"]
    assert all(f" {name} " in header for name in wanted), table
    starts = {name: header.index(name) for name in wanted}  # each a column of its own
    rows = [line for line in lines if line.lstrip().startswith(("├──", "└──"))]
    assert len(rows) == 3, table
    for line in rows:
        cells = {col: line[at:].split()[0] for col, at in starts.items()}
        assert all(re.fullmatch(r"0\.\d+", cells[c]) for c in wanted[:4]), (line, cells)
        assert cells["model.family"] in (
            "lightgbm",
            "logistic_regression",
            "random_forest",
            "hist_gradient_boosting",
        )
        assert cells["tune.n_trials"] == ("4" if "[linear]" in line else "3"), line
    assert max(len(line) for line in lines) <= 200


def test_params_yaml_holds_the_knobs_and_config_yaml_the_setup(repo):
    shown = json.loads(repo.run("dvc", "exp", "show", "--json").stdout)
    data = next(b for b in shown if b["rev"] != "workspace")["data"]
    knobs = data["params"]["params.yaml"]["data"]
    assert knobs["model"] == {"family": "lightgbm"}
    assert "spaces" not in knobs["tune"] and "leads" not in knobs  # the setup is in config.yaml


def test_compare_ranks_every_experiment_best_first(repo):
    rows = experiment_rows(json.loads(repo.run("dvc", "exp", "show", "--json").stdout))
    scores = [r["test roc_auc"] for r in rows]
    assert len(rows) >= 3 and scores == sorted(scores, reverse=True)
    table = format_table(rows)
    assert table.splitlines()[0].startswith("name") and "random_forest" in table


def test_a_segmentation_variant_reruns_only_customers_and_moves_no_champion(repo):
    repo.run("git", "checkout", "--", ".")  # back to the baseline: `dvc exp run` left `linear`
    repo.run("dvc", "checkout", "--force")
    ran = repo.run("dvc", "exp", "run", "-n", "kmeans", "-S", "segment.family=kmeans").stdout
    stages = re.findall(r"Running stage '([^']+)'", ran)
    assert "customers_tune" in stages and all(
        s.startswith("customers_") or s == "report" for s in stages
    ), stages
    shown = json.loads(repo.run("dvc", "exp", "show", "--json").stdout)
    rows = {r["name"]: r for r in experiment_rows(shown, VIEWS["customers"])}
    kmeans, baseline = rows["kmeans"], next(r for r in rows.values() if r["kind"] == "baseline")
    assert (kmeans["family"], baseline["family"]) == ("kmeans", "gaussian_mixture")
    assert kmeans["segments"] >= 2 and 0 < kmeans["silhouette"] < 1
    ranked = [r["ari of best"] for r in rows.values() if r["ari of best"] is not None]
    assert ranked == sorted(ranked, reverse=True) and len(ranked) >= 2
    rev = experiments(repo)["kmeans"]["rev"]
    promotion = json.loads(
        repo.run("git", "show", f"{rev}:reports/customers/promotion.json").stdout
    )
    assert not promotion["applied"] and promotion["promotion"]["why"] == "DVC experiment kmeans"
    assert champion_versions(repo) == CHAMPIONS_OF_MAIN


def test_a_click_variant_reruns_only_clicks_after_its_features_and_compares_in_its_view(repo):
    repo.run("git", "checkout", "--", ".")
    repo.run("dvc", "checkout", "--force")
    ran = repo.run("dvc", "exp", "run", "-n", "one_bag", "-S", "clicks_sampling.n_bags=1").stdout
    stages = re.findall(r"Running stage '([^']+)'", ran)
    assert "clicks_train" in stages and "clicks_features" not in stages, stages
    assert all(s.startswith("clicks_") or s == "report" for s in stages), stages
    shown = json.loads(repo.run("dvc", "exp", "show", "--json").stdout)
    rows = {r["name"]: r for r in experiment_rows(shown, VIEWS["clicks"])}
    one_bag, baseline = rows["one_bag"], next(r for r in rows.values() if r["kind"] == "baseline")
    assert (one_bag["bags"], baseline["bags"]) == (1, 3)
    assert 0.5 < one_bag["of ceiling"] <= 1.01
    assert one_bag["test roc_auc"] != baseline["test roc_auc"]
    rev = experiments(repo)["one_bag"]["rev"]
    promotion = json.loads(repo.run("git", "show", f"{rev}:reports/clicks/promotion.json").stdout)
    assert not promotion["applied"] and promotion["promotion"]["why"] == "DVC experiment one_bag"
    assert champion_versions(repo) == CHAMPIONS_OF_MAIN
    table = repo.run(
        sys.executable, "-m", "leadsift.compare", "--pipeline", "clicks", env={"PYTHONPATH": "src"}
    ).stdout
    header, *lines = table.splitlines()
    assert header.split()[:5] == ["name", "kind", "negatives", "bags", "trials"]
    assert "of ceiling" in header
    assert any(line.startswith("one_bag") for line in lines), table

"""The promotion gate: pure decision rules, then the real MLflow registry (SQLite, temp dir)."""

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from leadsift.core import model_store, registry, tracking
from leadsift.core.gate import (
    Candidate,
    ChampionCannotScoreError,
    Comparison,
    Decision,
    Floor,
    Mode,
    compare_paired,
    decide,
    promotion_mode,
    require_inputs,
)
from leadsift.core.io import InputError
from leadsift.core.model_store import save_model
from leadsift.leads.evaluation import champion_comparison, roc_auc_of
from leadsift.leads.models import TRUSTED_TYPES
from leadsift.leads.sales import SalesScorer
from leadsift.leads.schema import raw_records
from leadsift.leads.scoring import load_scoring_model
from tests.conftest import TIERS


def test_the_paired_bootstrap_brackets_the_observed_difference():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 3000)
    strong, weak = y + rng.normal(0, 0.7, 3000), y + rng.normal(0, 1.5, 3000)
    auc = roc_auc_of(y)
    result = compare_paired(auc, strong, weak, n_bootstrap=200, confidence=0.95, seed=1)
    assert result.difference == pytest.approx(roc_auc_score(y, strong) - roc_auc_score(y, weak))
    assert 0 < result.low < result.difference < result.high
    same = compare_paired(auc, strong, strong, n_bootstrap=50, confidence=0.95, seed=1)
    assert same.low == same.high == same.difference == 0


def test_a_resample_the_metric_cannot_measure_is_skipped():
    y = np.array([1] + [0] * 9)  # most resamples of ten rows miss the one positive
    result = compare_paired(roc_auc_of(y), np.arange(10.0), -np.arange(10.0), n_bootstrap=50,
                            confidence=0.9, seed=0)  # fmt: skip
    assert np.isfinite([result.low, result.high]).all() and result.difference == -1.0


def candidate(value: float, floor: float = 0.7) -> Candidate:
    return Candidate(Path("m"), "test_roc_auc", "test ROC-AUC", value, floor)


@pytest.mark.parametrize(
    ("auc", "comparison", "outcome", "alias"),
    [
        (0.65, None, "rejected", None),
        (0.80, None, "promoted", "champion"),
        (0.80, Comparison(0.02, 0.01, 0.03, 0.95), "promoted", "champion"),
        (0.80, Comparison(0.01, -0.005, 0.025, 0.95), "challenger", "challenger"),
        (0.80, Comparison(-0.02, -0.03, -0.01, 0.95), "challenger", "challenger"),
        (0.65, Comparison(0.02, 0.01, 0.03, 0.95), "rejected", None),
    ],
)
def test_decision_rules(auc, comparison, outcome, alias):
    decision = decide(
        candidate(auc), min_improvement=0.0, comparison=comparison, champion_version="3"
    )
    assert (decision.outcome, decision.alias) == (outcome, alias)
    assert decision.reasons and decision.reasons[0].startswith(f"test ROC-AUC {auc:.4f}")


def test_a_further_floor_rejects_whatever_the_metric_and_the_comparison_say():
    stable = Floor("segment stability", 0.95, 0.8)
    unstable = Floor("segment stability", 0.70, 0.8)
    better = Comparison(0.02, 0.01, 0.03, 0.95)
    rejected = decide(
        dataclasses.replace(candidate(0.9), also=(unstable,)),
        min_improvement=0.0, comparison=better, champion_version="1",
    )  # fmt: skip
    assert (rejected.outcome, rejected.alias) == ("rejected", None)
    assert rejected.reasons == ["segment stability 0.7000 is below the floor 0.8"]
    promoted = decide(
        dataclasses.replace(candidate(0.9), also=(stable,)),
        min_improvement=0.0, comparison=better, champion_version="1",
    )  # fmt: skip
    assert promoted.outcome == "promoted"
    assert promoted.reasons[:2] == [
        "test ROC-AUC 0.9000 clears the floor 0.7",
        "segment stability 0.9500 clears the floor 0.8",
    ]


def test_a_required_improvement_raises_the_bar():
    better = Comparison(0.02, 0.01, 0.03, 0.95)
    decision = decide(
        candidate(0.8), min_improvement=0.015, comparison=better, champion_version="1"
    )
    assert decision.alias == "challenger"


def test_a_champion_that_cannot_read_the_data_gives_way_to_the_first_model_above_the_floor():
    why = "it reads column(s) city, which the current data lack"
    decision = decide(
        candidate(0.8), min_improvement=0.0, comparison=None, champion_version="2", unscorable=why
    )
    assert (decision.outcome, decision.alias) == ("promoted", "champion")
    assert decision.reasons[1] == f"champion version 2 cannot score the current data: {why}"
    below = decide(
        candidate(0.6), min_improvement=0.0, comparison=None, champion_version="2", unscorable=why
    )
    assert below.outcome == "rejected"


def test_the_champion_s_inputs_are_checked_before_it_scores():
    rows = pd.DataFrame({"a": [1.0, None, 3.0], "b": [1, 2, 3]})
    require_inputs(["a", "b"], rows)  # a missing value is the model's to handle
    with pytest.raises(ChampionCannotScoreError, match=r"^it reads column\(s\) c, which the"):
        require_inputs(["a", "c"], rows)
    with pytest.raises(ChampionCannotScoreError, match=r"needs column\(s\) a, which 1 of the 3 "):
        require_inputs(["b", "a"], rows, complete=True)
    with pytest.raises(
        ChampionCannotScoreError, match=r"column\(s\) x0, x1, x2, x3, x4, x5 and 2 more,"
    ):
        require_inputs([f"x{i}" for i in range(8)], rows)


@pytest.mark.parametrize(
    ("env", "branch", "on", "why"),
    [
        ({}, "main", True, "workspace of main"),
        ({}, "feature", False, "branch feature, not main"),
        ({}, "", False, "detached checkout"),
        ({"DVC_EXP_NAME": "linear"}, "main", False, "DVC experiment linear"),
        ({"LEADSIFT_PROMOTION": "off"}, "main", False, "LEADSIFT_PROMOTION=off"),
        ({"LEADSIFT_PROMOTION": "on"}, "", True, "LEADSIFT_PROMOTION=on"),
        ({"LEADSIFT_PROMOTION": "auto", "DVC_EXP_NAME": "x"}, "main", False, "DVC experiment x"),
    ],
)
def test_only_the_main_workspace_promotes_unless_told(env, branch, on, why):
    assert promotion_mode("main", env=env, branch=branch) == Mode(on, why)


def test_a_misspelt_promotion_switch_is_named():
    with pytest.raises(InputError, match="LEADSIFT_PROMOTION must be on, off or auto"):
        promotion_mode("main", env={"LEADSIFT_PROMOTION": "yes"}, branch="main")


@pytest.fixture
def store(tmp_path, monkeypatch):
    """A fresh project root: MLflow's SQLite store and artifacts live in it."""
    monkeypatch.setenv("DVC_ROOT", str(tmp_path))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    return tmp_path


def train_and_log(name, prepared, roles, fit_model, store, *, hyperparams, shuffle=False):
    train = prepared.iloc[:3000]
    y = train[roles.target].to_numpy()
    if shuffle:  # a model that learned nothing
        y = np.random.default_rng(0).permutation(y)
    pipeline = fit_model(train, hyperparams=hyperparams, y=y, roles=roles)
    records = raw_records(train, roles)
    model_dir = store / name
    save_model(pipeline, model_dir, records.head(5), TRUSTED_TYPES)
    tracking.log_training(
        "gate-test",
        tags={},
        params=hyperparams,
        metrics={},
        pipeline=pipeline,
        example=records.head(5),
        model_dir=model_dir,
        trusted=TRUSTED_TYPES,
        stage="leads_train",
    )
    return pipeline, model_dir


GATE = {
    "min_roc_auc": 0.6,
    "min_improvement": 0.0,
    "confidence": 0.95,
    "n_bootstrap": 100,
    "seed": 0,
}
ON = Mode(True, "workspace of main")


def gate_lead_model(model, model_dir, records, y, mode=ON):
    """The lead pipeline's gate on a model scored on `records`, against the store's `leads`."""
    auc = roc_auc_score(y, model.predict_proba(records)[:, 1])
    return registry.gate_and_register(
        Candidate(model_dir, "test_roc_auc", "test ROC-AUC", auc, GATE["min_roc_auc"]),
        compare=champion_comparison(model, records, y, GATE),
        min_improvement=GATE["min_improvement"],
        gate=GATE,
        experiment="gate-test",
        model_name="leads",
        mode=mode,
    )


def test_the_gate_against_a_real_registry(prepared, roles, fit_model, store):
    test = prepared.iloc[3000:]
    records, y = raw_records(test, roles), test[roles.target].to_numpy()
    off = Mode(False, "branch x, not main")

    def submit(name, mode=ON, **kwargs):
        model, model_dir = train_and_log(name, prepared, roles, fit_model, store, **kwargs)
        return gate_lead_model(model, model_dir, records, y, mode)

    weak = {"max_iter": 2, "max_leaf_nodes": 2, "early_stopping": False}
    strong = {"max_iter": 80, "early_stopping": False}
    with pytest.raises(InputError, match=r"no model version in .*run `make repro`"):
        load_scoring_model("models:/leads@champion")
    candidate = submit("weak_off", mode=off, hyperparams=weak)  # a pull request's run
    assert (candidate["decision"], candidate["would_promote"], candidate["applied"]) == (
        "promoted",
        True,
        False,
    )
    assert candidate["version"] is None and registry.current_champion("leads") is None
    first = submit("weak", hyperparams=weak)
    assert (first["decision"], first["version"], first["champion_before"]) == (
        "promoted",
        "1",
        None,
    )
    better_off = submit("strong_off", mode=off, hyperparams={**strong, "learning_rate": 0.2})
    assert better_off["would_promote"] and not better_off["applied"]
    assert str(registry.current_champion("leads").version) == "1"  # untouched
    better = submit("strong", hyperparams=strong)
    assert (better["decision"], better["version"], better["champion_before"]) == (
        "promoted",
        "2",
        "1",
    )
    assert better["comparison"]["low"] > 0
    worse = submit("weak_again", hyperparams={**weak, "learning_rate": 0.05})
    assert (worse["decision"], worse["alias"], worse["version"]) == (
        "challenger",
        "challenger",
        "3",
    )
    assert worse["comparison"]["difference"] < 0
    useless = submit("shuffled", hyperparams=strong, shuffle=True)
    assert (useless["decision"], useless["alias"]) == ("rejected", None)
    again = submit("strong_again", hyperparams=strong)
    assert (again["decision"], again["version"]) == ("unchanged", "2")
    assert again["reasons"] == ["identical to champion version 2"]
    challenger_again = submit("weak_again_2", hyperparams={**weak, "learning_rate": 0.05})
    assert (challenger_again["decision"], challenger_again["version"]) == ("challenger", "3")
    assert (
        challenger_again["reasons"][0]
        == "already registered as version 3 (challenger), judged again"
    )

    client = registry.MlflowClient()
    assert str(client.get_model_version_by_alias("leads", "champion").version) == "2"
    assert str(client.get_model_version_by_alias("leads", "challenger").version) == "3"
    assert len(client.search_model_versions("name = 'leads'")) == 4
    tags = client.get_model_version("leads", "4").tags
    assert tags["decision"] == "rejected" and "below the floor" in tags["reasons"]
    assert (store / "mlflow.db").is_file() and (store / "mlartifacts").is_dir()
    with pytest.raises(InputError, match="leads@champion is a bare Pipeline, not a sales model"):
        load_scoring_model("models:/leads@champion")  # the gate takes any model; scoring does not


def test_a_model_no_run_logged_is_registered_from_its_directory(prepared, roles, fit_model, store):
    """Outputs pulled from a DVC remote skip `package`, so no run logged the sales model:
    register logs the directory itself, and scoring loads it from the registry."""
    pipeline = fit_model(prepared.iloc[:2000], hyperparams={"max_iter": 5})
    scorer = SalesScorer.package(pipeline, TIERS, roles)
    records = raw_records(prepared, roles).head(3)
    save_model(scorer, store / "pulled", records, TRUSTED_TYPES, predict_fn="predict")
    uri = tracking.logged_model_uri("gate-test", store / "pulled")
    version = registry.record("pulled", uri, Decision("promoted", "champion"), {})
    model, label = load_scoring_model("models:/pulled@champion")
    assert (version, label) == ("1", "pulled v1")
    pd.testing.assert_frame_equal(model.predict(records), scorer.predict(records))
    assert (
        tracking.logged_model_uri("gate-test", store / "pulled") == uri
    )  # found, not logged again


def test_a_champion_trained_on_other_columns_is_replaced_with_the_reason(
    prepared, roles, fit_model, store
):
    """A team's own data after `make repro`: the registered sales model reads the embedded
    leads' columns, which the team's leads lack, so the gate cannot compare the two. Back on the
    embedded leads, the same holds the other way, and their model takes the alias back."""
    train, test = prepared.iloc[:3000], prepared.iloc[3000:]  # train_and_log's training rows
    scorer = SalesScorer.package(fit_model(train, hyperparams={"max_iter": 5}), TIERS, roles)
    embedded = store / "embedded"
    save_model(scorer, embedded, raw_records(train, roles).head(3), TRUSTED_TYPES,
               predict_fn="predict")  # fmt: skip
    uri = tracking.logged_model_uri("gate-test", embedded)
    uuid = {tracking.MODEL_UUID_TAG: model_store.model_uuid(embedded)}
    registry.record("leads", uri, Decision("promoted", "champion"), uuid)
    # the team's leads have no creation time, and a column of their own
    theirs = prepared.assign(visits_own=prepared[roles.numeric[0]])
    own = dataclasses.replace(roles, timestamp=None, numeric=(*roles.numeric, "visits_own"))
    tiny = {"max_iter": 5}
    pipeline, model_dir = train_and_log("own", theirs, own, fit_model, store, hyperparams=tiny)
    report = gate_lead_model(
        pipeline, model_dir, raw_records(theirs.iloc[3000:], own), test[roles.target]
    )
    assert (report["decision"], report["version"], report["champion_before"]) == (
        "promoted",
        "2",
        "1",
    )
    assert report["comparison"] is None
    assert report["reasons"][1] == (
        f"champion version 1 cannot score the current data: it reads column(s) {roles.timestamp}, "
        "which the current data lack"
    )
    assert str(registry.current_champion("leads").version) == "2"
    back = gate_lead_model(scorer, embedded, raw_records(test, roles), test[roles.target])
    assert (back["decision"], back["version"], back["champion_before"]) == ("promoted", "1", "2")
    assert back["reasons"][0] == "already registered as version 1 (promoted), judged again"
    assert back["reasons"][2].startswith(
        "champion version 2 cannot score the current data: it reads column(s) visits_own,"
    )
    assert str(registry.current_champion("leads").version) == "1"
    assert len(registry.MlflowClient().search_model_versions("name = 'leads'")) == 2

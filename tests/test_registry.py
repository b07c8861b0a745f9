"""The promotion gate: pure decision rules, then the real MLflow registry (SQLite, temp dir)."""

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from leadsift import registry, tracking
from leadsift.model_store import raw_records, save_model
from leadsift.registry import Comparison, decide
from leadsift.scoring import load_scoring_model


def test_compare_auc_brackets_the_observed_difference():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 3000)
    strong, weak = y + rng.normal(0, 0.7, 3000), y + rng.normal(0, 1.5, 3000)
    result = registry.compare_auc(y, strong, weak, n_bootstrap=200, confidence=0.95, seed=1)
    assert result.difference == pytest.approx(roc_auc_score(y, strong) - roc_auc_score(y, weak))
    assert 0 < result.low < result.difference < result.high
    same = registry.compare_auc(y, strong, strong, n_bootstrap=50, confidence=0.95, seed=1)
    assert same.low == same.high == same.difference == 0


GATE = {"floor": 0.7, "min_improvement": 0.0}


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
    decision = decide(auc, **GATE, comparison=comparison, champion_version="3")
    assert (decision.outcome, decision.alias) == (outcome, alias)
    assert decision.reasons


def test_a_required_improvement_raises_the_bar():
    better = Comparison(0.02, 0.01, 0.03, 0.95)
    assert (
        decide(0.8, floor=0.7, min_improvement=0.015, comparison=better, champion_version="1").alias
        == "challenger"
    )


def test_the_same_model_is_left_alone():
    decision = decide(0.9, **GATE, comparison=None, champion_version="2", same_as_champion=True)
    assert decision.outcome == "unchanged" and decision.alias is None


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
    pipeline = fit_model(train, hyperparams=hyperparams, y=y)
    records = raw_records(train, roles)
    model_dir = store / name
    save_model(pipeline, model_dir, records.head(5))
    tracking.log_training(
        "gate-test",
        tags={},
        params=hyperparams,
        metrics={},
        pipeline=pipeline,
        example=records.head(5),
        model_dir=model_dir,
    )
    return pipeline, model_dir


def test_the_gate_against_a_real_registry(prepared, roles, fit_model, store):
    test = prepared.iloc[3000:]
    records, y = raw_records(test, roles), test[roles.target].to_numpy()
    gate = {
        "min_roc_auc": 0.6,
        "min_improvement": 0.0,
        "confidence": 0.95,
        "n_bootstrap": 100,
        "seed": 0,
    }

    def submit(name, **kwargs):
        model, model_dir = train_and_log(name, prepared, roles, fit_model, store, **kwargs)
        auc = roc_auc_score(y, model.predict_proba(records)[:, 1])
        return registry.gate_and_register(
            model_dir=model_dir,
            test_records=records,
            y_test=y,
            roc_auc=auc,
            gate=gate,
            experiment="gate-test",
            model_name="leads",
        )

    weak = {"max_iter": 2, "max_leaf_nodes": 2, "early_stopping": False}
    strong = {"max_iter": 80, "early_stopping": False}
    first = submit("weak", hyperparams=weak)
    assert (first["decision"], first["version"], first["champion_before"]) == (
        "promoted",
        "1",
        None,
    )
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
    assert (again["decision"], again["version"]) == ("unchanged", None)

    client = registry.MlflowClient()
    assert str(client.get_model_version_by_alias("leads", "champion").version) == "2"
    assert str(client.get_model_version_by_alias("leads", "challenger").version) == "3"
    tags = client.get_model_version("leads", "4").tags
    assert tags["decision"] == "rejected" and "below the floor" in tags["reasons"]
    assert (store / "mlflow.db").is_file() and (store / "mlartifacts").is_dir()
    model, label = load_scoring_model("models:/leads@champion")
    assert label == "leads v2" and model.predict_proba(records).shape == (len(records), 2)

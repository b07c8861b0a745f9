import math

import numpy as np
import optuna
import pytest

from leadsift.core import tuning
from leadsift.core.io import InputError
from leadsift.leads.models import FAMILIES, build_pipeline
from leadsift.leads.schema import raw_records
from leadsift.leads.tuning import objective, preprocess_once

optuna.logging.set_verbosity(optuna.logging.WARNING)

SPACES = {
    "hist_gradient_boosting": {
        "learning_rate": {"low": 0.03, "high": 0.3, "log": True},
        "max_iter": {"low": 20, "high": 100, "step": 20},
        "max_leaf_nodes": {"low": 4, "high": 32},
    },
    "lightgbm": {
        "learning_rate": {"low": 0.03, "high": 0.3, "log": True},
        "n_estimators": {"low": 20, "high": 100, "step": 20},
        "num_leaves": {"low": 4, "high": 32},
    },
    "logistic_regression": {"C": {"low": 0.01, "high": 10.0, "log": True}},
    "random_forest": {
        "n_estimators": {"low": 20, "high": 60, "step": 20},
        "max_features": {"choices": ["sqrt", 0.5]},
    },
}
FIXED = {
    "lightgbm": {"deterministic": True, "force_col_wise": True, "verbose": -1},
    "logistic_regression": {"max_iter": 2000},
}


@pytest.fixture(scope="module")
def tuning_inputs(prepared, roles, cleaning):
    """Preprocessed small train/validation matrices for each family."""
    train, valid = prepared.iloc[:2500], prepared.iloc[2500:3500]
    out = {}
    for family in SPACES:
        fixed = FIXED.get(family, {})
        pipeline = build_pipeline(roles, **cleaning, family=family, hyperparams=fixed,
                                  coverage=0.9, max_levels=50, seed=0)  # fmt: skip
        data = preprocess_once(
            pipeline[:-1],
            (raw_records(train, roles), train[roles.target].to_numpy()),
            (raw_records(valid, roles), valid[roles.target].to_numpy()),
        )
        out[family] = (pipeline[-1], data)
    return out


def study(tuning_inputs, family, *, n_trials=8, seed=3, pruner="median", metric="roc_auc"):
    classifier, data = tuning_inputs[family]
    space = tuning.parse_space(
        SPACES[family], f"tune_setup.spaces.{family}", set(classifier.get_params()), {}
    )
    evaluate = objective(classifier, space, data, metric=metric, family=FAMILIES[family], step=20)
    return tuning.run_study(evaluate, n_trials=n_trials, seed=seed, pruner=pruner)


@pytest.mark.parametrize("family", sorted(SPACES))
def test_a_seeded_study_is_reproducible(tuning_inputs, family):
    first, second = study(tuning_inputs, family), study(tuning_inputs, family)
    assert first.best_params == second.best_params
    assert [t.value for t in first.trials] == [t.value for t in second.trials]
    assert 0.7 < first.best_value < 1.0


def test_another_seed_explores_other_points(tuning_inputs):
    assert (
        study(tuning_inputs, "logistic_regression", seed=1).trials[0].params
        != study(tuning_inputs, "logistic_regression", seed=2).trials[0].params
    )


@pytest.mark.parametrize(
    ("family", "budget"), [("hist_gradient_boosting", "max_iter"), ("lightgbm", "n_estimators")]
)
def test_growing_families_are_pruned_below_their_full_size(tuning_inputs, family, budget):
    boosted = study(tuning_inputs, family, n_trials=14)
    assert tuning.summary(boosted, "roc_auc")["n_pruned"] > 0
    pruned = [t for t in boosted.trials if t.state == optuna.trial.TrialState.PRUNED]
    assert all(t.last_step < t.params[budget] for t in pruned)
    # Reports every 20 rounds; a finished trial's last report is its own value.
    for trial in boosted.trials:
        assert all(step % 20 == 0 for step in trial.intermediate_values)
        if trial.state == optuna.trial.TrialState.COMPLETE:
            reported = trial.intermediate_values[trial.params[budget]]
            assert reported == pytest.approx(trial.value, abs=1e-9)


def test_other_families_are_not_pruned(tuning_inputs):
    linear = study(tuning_inputs, "logistic_regression", n_trials=8)
    assert tuning.summary(linear, "roc_auc")["n_pruned"] == 0


@pytest.mark.parametrize(
    ("family", "budget"), [("hist_gradient_boosting", "max_iter"), ("lightgbm", "n_estimators")]
)
def test_no_pruner_runs_every_trial_to_the_end(tuning_inputs, family, budget):
    full = study(tuning_inputs, family, n_trials=8, pruner="none")
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in full.trials)
    assert all(t.last_step == t.params[budget] for t in full.trials)


def test_trials_table_has_one_row_per_trial_and_a_running_best(tuning_inputs):
    boosted = study(tuning_inputs, "hist_gradient_boosting", n_trials=10)
    table = tuning.trials_table(boosted)
    assert table["number"].tolist() == list(range(10))
    assert {"state", "value", "best_value", "param_learning_rate", "duration_s"} <= set(
        table.columns
    )
    assert table["best_value"].dropna().is_monotonic_increasing
    assert table["best_value"].iloc[-1] == pytest.approx(boosted.best_value)
    assert not table["value"].isna().any()
    importance = tuning.param_importances(boosted, seed=0)
    assert sorted(importance["feature"]) == sorted(SPACES["hist_gradient_boosting"])
    assert math.isclose(importance["importance"].sum(), 1.0)


def test_pr_auc_can_be_the_objective(tuning_inputs):
    linear = study(tuning_inputs, "logistic_regression", n_trials=3, metric="pr_auc")
    assert 0.3 < linear.best_value < 1.0


ACCEPTED = {"learning_rate", "max_iter", "max_features", "max_depth"}


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (None, r"`tune_setup.spaces.f` must map"),
        (
            {"learning_rat": {"low": 0.1, "high": 0.2}},
            r"`tune_setup.spaces.f.learning_rat` is not a parameter",
        ),
        ({"learning_rate": 0.1}, r"`tune_setup.spaces.f.learning_rate` must be"),
        ({"learning_rate": {"low": 0.3, "high": 0.1}}, r"`low` \(0.3\) must be below"),
        ({"learning_rate": {"low": 0, "high": 1, "log": True}}, r"log range needs `low` > 0"),
        ({"learning_rate": {"low": "a", "high": 1}}, "numeric"),
        ({"learning_rate": {"high": 1}}, "numeric"),
        ({"max_iter": {"low": 1, "high": 9, "step": 0}}, "`step` must be positive"),
        ({"max_features": {"choices": []}}, "non-empty list"),
        ({"max_features": {"choices": ["sqrt"], "low": 1}}, "non-empty list, and alone"),
        ({"max_iter": {"low": 1, "high": 9, "steps": 2}}, r"unknown key\(s\) \['steps'\]"),
        (
            {"max_depth": {"low": 2, "high": 9}},
            r"`tune_setup.spaces.f.max_depth` is also set under `model_setup.f`",
        ),
    ],
)
def test_malformed_spaces_are_rejected_naming_the_key(spec, message):
    with pytest.raises(InputError, match=message):
        tuning.parse_space(spec, "tune_setup.spaces.f", ACCEPTED, {"max_depth": 3}, "model_setup.f")


def test_sample_rows_is_seeded_and_keeps_order(prepared):
    sample = tuning.sample_rows(prepared, 100, seed=1)
    assert len(sample) == 100 and sample.index.is_monotonic_increasing
    assert sample.equals(tuning.sample_rows(prepared, 100, seed=1))
    assert tuning.sample_rows(prepared, None, seed=1) is prepared
    assert np.array_equal(tuning.sample_rows(prepared, 10**9, seed=1).index, prepared.index)

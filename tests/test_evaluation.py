import numpy as np
import pandas as pd
import pytest
from sklearn.inspection import permutation_importance

from leadsift.leads.evaluation import (
    Scores,
    evaluate_model,
    evaluate_scores,
    importance_table,
    true_scores,
)
from leadsift.leads.metrics import business_threshold, hot_threshold, prior_baseline
from leadsift.leads.schema import raw_records

NAMES = {"hot": "hot", "warm": "warm", "cold": "cold"}
SETTINGS = {
    "train_rate": 0.3,
    "min_genuine_recall": 0.9,
    "hot_genuine_rate": 0.6,
    "tier_names": NAMES,
    "curve_points": 50,
    "calibration_bins": 5,
}


def scores(seed: int, with_truth: bool) -> Scores:
    rng = np.random.default_rng(seed)
    p = rng.beta(2, 5, 3000)
    y = (rng.random(3000) < p).astype(int)
    return Scores(y, np.clip(p + rng.normal(0, 0.1, 3000), 0.001, 0.999), p if with_truth else None)


def test_threshold_comes_from_validation_and_is_applied_to_test():
    validation, test = scores(1, True), scores(2, True)
    result = evaluate_scores(validation, test, **SETTINGS)
    threshold = business_threshold(validation.y, validation.model, 0.9)
    assert result.summary["business"]["threshold"] == threshold
    assert result.summary["business"]["genuine_recall"] == pytest.approx(
        (test.model[test.y == 1] >= threshold).mean()
    )
    assert result.summary["test"]["bayes_roc_auc"] > result.summary["test"]["roc_auc"]
    assert not result.tables["roc_bayes"].empty
    # tiers: chosen on validation, reported on both splits
    tiers = result.summary["tiers"]
    assert tiers["hot_from"] == hot_threshold(validation.y, validation.model, 0.6) > threshold
    assert tiers["validation"]["hot"]["genuine_rate"] >= 0.6
    hot = test.model >= tiers["hot_from"]
    assert tiers["test"]["hot"]["share"] == pytest.approx(hot.mean())
    assert tiers["test"]["hot"]["genuine_rate"] == pytest.approx(test.y[hot].mean())
    assert sum(t["leads"] for t in tiers["test"].values()) == len(test.y)


def test_without_truth_the_bayes_tables_keep_only_their_header():
    result = evaluate_scores(scores(1, False), scores(2, False), **SETTINGS)
    assert "bayes_roc_auc" not in result.summary["test"]
    for kind in ("roc", "pr", "gains"):
        bayes, model = result.tables[f"{kind}_bayes"], result.tables[f"{kind}_model"]
        assert bayes.empty and list(bayes.columns) == list(model.columns)


def test_true_scores_need_every_id():
    truth = pd.Series([0.1, 0.2, 0.3], index=["a", "b", "c"])
    assert true_scores(truth, pd.Series(["c", "a"])).tolist() == [0.3, 0.1]
    assert true_scores(truth, pd.Series(["a", "zzz"])) is None
    assert true_scores(None, pd.Series(["a"])) is None


def test_importance_on_raw_dirty_records_equals_permuting_the_whole_pipeline(
    leads, prepared, roles, fit_model
):
    """importance_table normalises once instead of per permutation: the result must not change."""
    model = fit_model(prepared, hyperparams={"max_iter": 30})
    export = leads[0].head(800)
    known = export[roles.target].notna()
    inputs, y = export.loc[known, roles.model_inputs], export.loc[known, roles.target].astype(int)
    table = importance_table(model, inputs, y.to_numpy(), n_rows=800, repeats=2, seed=3)
    direct = permutation_importance(
        model, inputs, y.to_numpy(), scoring="roc_auc", n_repeats=2, random_state=3
    )
    expected = dict(zip(inputs.columns, direct.importances_mean, strict=True))
    assert dict(zip(table["feature"], table["importance"], strict=True)) == expected
    assert table["importance"].is_monotonic_decreasing
    assert table["importance"].iloc[0] > 0.01  # the strongest input matters


def test_a_model_is_evaluated_on_its_splits_against_the_truth_of_their_ids(
    leads, prepared, roles, fit_model, params
):
    train, validation, test = prepared.iloc[:3000], prepared.iloc[3000:4000], prepared.iloc[4000:]
    model = fit_model(train, hyperparams={"max_iter": 30})
    small = {"importance_rows": 300, "importance_repeats": 1}
    params = {**params, "leads_evaluate": {**params["leads_evaluate"], **small}}
    splits = {"train": train[[roles.target]], "validation": validation, "test": test}
    result = evaluate_model(model, splits, leads[1], roles, params)
    summary, tables = result.summary, result.tables
    score = model.predict_proba(raw_records(validation, roles))[:, 1]
    recall = params["business"]["min_genuine_recall"]
    assert summary["business"]["threshold"] == business_threshold(
        validation[roles.target].to_numpy(), score, recall
    )
    train_rate = train[roles.target].mean()
    assert summary["test"]["prior"] == prior_baseline(test[roles.target].to_numpy(), train_rate)
    assert 0.5 < summary["test"]["roc_auc"] < summary["test"]["bayes_roc_auc"]  # ids matched
    assert set(tables) >= {"roc_model", "roc_bayes", "calibration", "confusion"}
    assert set(tables["importance"]["feature"]) == set(roles.model_inputs)
    assert summary["reasons"]["available"] == (len(tables["contributions"]) > 0)
    # a truth of other leads is no truth of these
    other = leads[1].assign(**{roles.id_column: "other-" + leads[1][roles.id_column]})
    blind = evaluate_model(model, splits, other, roles, params)
    assert "bayes_roc_auc" not in blind.summary["test"] and blind.tables["roc_bayes"].empty

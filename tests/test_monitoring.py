"""Drift monitoring: silent on batches like the training data, loud on each kind of drift."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from leadsift.core import monitoring as measures
from leadsift.leads import monitoring
from leadsift.leads.cleaning import clean_leads
from leadsift.leads.features import add_features, derived_feature_names
from leadsift.leads.schema import raw_records
from leadsift.leads.synth import Dirt, Drift, generate_leads, monthly_batches
from tests.conftest import WORLD_7

BATCH = 5000


@pytest.fixture(scope="module")
def reference(roles, cleaning, fit_model):
    """Training leads (with features), a model fitted on them and its scores on held-out leads."""
    train = clean_leads(
        generate_leads(20000, **WORLD_7, sample_seed=11, dirt=Dirt())[0],
        roles,
        source="t",
        **cleaning,
    ).clean
    test = clean_leads(
        generate_leads(BATCH, **WORLD_7, sample_seed=12, dirt=Dirt())[0],
        roles,
        source="t",
        **cleaning,
    ).clean
    model = fit_model(train, hyperparams={"max_iter": 60})
    scores = model.predict_proba(raw_records(test, roles))[:, 1]

    test_auc = roc_auc_score(test[roles.target], scores)
    return add_features(train, roles.interaction_groups, None), model, scores, test_auc


def check_batch(reference, context, *, seed: int, drift: Drift) -> list[str]:
    """Alerts of one generated monthly batch, labels included, at the default thresholds."""
    train, model, test_scores, test_auc = reference
    roles, cleaning, params = context
    batch = monthly_batches(
        1, BATCH, after="2026-01-01", genuine_rate=0.3, world_seed=7, sample_seed=seed,
        dirt=Dirt(), drift=drift, id_offset=10**7,
    )[0]  # fmt: skip
    clean = clean_leads(batch.export, roles, source="b", labelled=False, **cleaning).clean
    scored = clean.assign(probability=model.predict_proba(raw_records(clean, roles))[:, 1])
    settings = params["leads_monitor"]
    features = measures.feature_drift(
        train,
        add_features(scored, roles.interaction_groups, None),
        categorical=roles.categorical,
        numeric=[*roles.numeric_inputs, *derived_feature_names(roles.interaction_groups, None)],
        bins=settings["bins"],
    )
    score = measures.score_drift(test_scores, scored["probability"], settings["bins"])
    y, probability = monitoring.labelled_scores(scored, batch.truth, roles, "labels")
    return monitoring.batch_alerts(
        features,
        score,
        monitoring.label_outcome(y, probability),
        test_roc_auc=test_auc,
        limits=monitoring.Thresholds.from_params(settings),
    )


@pytest.fixture(scope="module")
def context(roles, cleaning, params):
    return roles, cleaning, params


@pytest.mark.parametrize("seed", [201, 202, 203, 204, 205])
def test_no_alarm_on_batches_drawn_like_the_training_data(reference, context, seed):
    assert check_batch(reference, context, seed=seed, drift=Drift()) == []


@pytest.mark.parametrize(
    ("drift", "subject"),
    [
        (Drift(new_sources=0.05), "utm_source: 5"),  # unseen share (and PSI) of the source
        (Drift(platform_shift=0.8), "platform: PSI"),
        (Drift(count_inflation=1.0), "interactions_total: PSI"),
        (Drift(genuine_rate_shift=-0.1), "labels: genuine rate"),
    ],
)
def test_each_drift_knob_raises_its_alert(reference, context, drift, subject):
    alerts = check_batch(reference, context, seed=301, drift=drift)
    assert any(alert.startswith(subject) for alert in alerts), alerts


def test_unseen_categories_are_counted_and_missing_values_are_not_unseen():
    reference = pd.Series(["a", "b", "a", None, "c"])
    batch = pd.Series(["a", "z", "y", None, "b", "z", "c", "a"])
    drift = measures.categorical_drift(reference, batch)
    assert drift["unseen_share"] == pytest.approx(3 / 8)
    assert drift["psi"] > 0 and drift["test"] == "chi-square"
    same = measures.categorical_drift(reference, reference)
    assert same["unseen_share"] == 0 and same["psi"] == pytest.approx(0)


def test_psi_uses_training_quantile_bins_with_repeated_values_merged():
    counts = pd.Series([0] * 70 + [1] * 20 + [2] * 10, dtype=float)
    assert measures.bin_edges(counts, 10).tolist() == [0.0, 1.0]
    shifted = counts + 1
    assert measures.numeric_drift(counts, counts, 10)["psi"] == pytest.approx(0)
    moved = measures.numeric_drift(counts, shifted, 10)
    assert moved["psi"] > 1 and moved["p_value"] < 1e-6
    assert measures.psi(np.array([50, 50]), np.array([50, 50])) == 0


def test_the_report_recommends_retraining_only_with_reasons(params):
    limits = monitoring.Thresholds.from_params(params["leads_monitor"])
    quiet = {"2026-01": {"alerts": []}}
    assert monitoring.drift_report(quiet, limits)["retrain_recommended"] is False
    loud = {**quiet, "2026-02": {"alerts": ["platform: PSI 0.31 >= 0.1"]}}
    report = monitoring.drift_report(loud, limits)
    assert report["retrain_recommended"] is True
    assert report["reasons"] == ["2026-02: platform: PSI 0.31 >= 0.1"]


def test_unseen_categories_expected_from_a_small_reference_do_not_alert():
    """A long-tailed column seen in a small sample: a third of its rows are singletons, so about a
    third of later rows hold categories it never saw, without any drift (Good-Turing)."""
    rng = np.random.default_rng(0)
    levels = [f"c{i}" for i in range(5000)]
    weights = 1 / np.arange(1, 5001)  # Zipf-like, as cities are
    weights /= weights.sum()
    reference = pd.Series(rng.choice(levels, 3000, p=weights))
    batch = pd.Series(rng.choice(levels, 1000, p=weights))
    drift = measures.categorical_drift(reference, batch)
    singletons = (reference.value_counts() == 1).sum() / len(reference)
    assert drift["unseen_expected"] == pytest.approx(singletons)
    assert abs(drift["unseen_share"] - drift["unseen_expected"]) < 0.04  # within 3 sd of a share
    assert drift["unseen_share"] > 0.05  # what the old rule (alert at 2%) would have flagged


@pytest.mark.parametrize("seed", [201, 202, 203])
def test_the_default_mild_drift_raises_no_alarm(reference, context, params, seed):
    """The docs' claim for the default incoming batches: their drift (params.yaml
    `incoming.drift`, here all of it, as the last batch has it) alerts nothing."""
    drift = Drift(**params["incoming"]["drift"])
    assert check_batch(reference, context, seed=seed, drift=drift) == []

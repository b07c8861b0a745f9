import math

import numpy as np
import pytest
from sklearn.metrics import recall_score

from leadsift.leads import metrics

Y = np.array([1, 1, 1, 1, 0, 0, 0, 0, 0, 0])
SCORE = np.array([0.9, 0.8, 0.4, 0.2, 0.7, 0.3, 0.25, 0.1, 0.05, 0.01])


def test_business_threshold_is_the_highest_that_keeps_the_recall():
    assert metrics.business_threshold(Y, SCORE, 0.75) == 0.4
    assert metrics.business_threshold(Y, SCORE, 0.76) == 0.2
    assert metrics.business_threshold(Y, SCORE, 1.0) == 0.2


@pytest.mark.parametrize("target", [0.5, 0.9, 0.95, 0.99])
def test_business_threshold_on_random_scores(target):
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 2000)
    score = rng.random(2000) * 0.5 + 0.3 * y
    t = metrics.business_threshold(y, score, target)
    assert recall_score(y, score >= t) >= target
    higher = np.min(score[score > t])  # the next threshold up loses recall
    assert recall_score(y, score >= higher) < target


def test_business_view_counts_what_sales_gains():
    view = metrics.business_view(Y, SCORE, 0.3)
    assert view["genuine_recall"] == 0.75  # 3 of 4 genuine called
    assert view["junk_filtered"] == pytest.approx(4 / 6)  # 0.7 and 0.3 junk still called
    assert view["calls_saved"] == 0.5 and view["leads_called"] == 5 and view["genuine_missed"] == 1


def test_classification_metrics_at_a_threshold():
    m = metrics.classification_metrics(Y, SCORE, 0.3)
    assert m["confusion"] == {"tn": 4, "fp": 2, "fn": 1, "tp": 3}
    assert m["precision"] == pytest.approx(3 / 5) and m["recall"] == 0.75
    assert m["roc_auc"] == pytest.approx(20 / 24)  # 20 of 24 genuine/junk pairs ranked right


def test_prior_baseline_is_the_no_skill_model():
    base = metrics.prior_baseline(Y, 0.4)
    assert base["log_loss"] == pytest.approx(-(0.4 * math.log(0.4) + 0.6 * math.log(0.6)))
    assert base["brier"] == pytest.approx(0.24) and base["pr_auc"] == 0.4


def test_curve_tables_are_thinned_finite_and_keep_their_ends():
    rng = np.random.default_rng(1)
    y, score = rng.integers(0, 2, 5000), rng.random(5000)
    roc = metrics.roc_table(y, score, 50)
    assert (
        len(roc) <= 50
        and roc.iloc[0][["fpr", "tpr"]].tolist() == [0, 0]
        and roc.iloc[-1]["tpr"] == 1
    )
    assert np.isfinite(roc.to_numpy()).all()
    pr = metrics.pr_table(y, score, 50)
    assert pr["recall"].is_monotonic_increasing and np.isfinite(pr.to_numpy()).all()
    gains = metrics.gains_table(y, score, 50)
    assert gains.iloc[-1][["contacted", "captured"]].tolist() == [1, 1]


def test_calibration_bins_hold_equal_counts():
    rng = np.random.default_rng(2)
    score = rng.random(1000)
    table = metrics.calibration_table((rng.random(1000) < score).astype(int), score, 10)
    assert table["leads"].tolist() == [100] * 10
    assert np.abs(table["mean_predicted"] - table["observed_rate"]).max() < 0.15


def test_confusion_rows_name_the_classes():
    rows = metrics.confusion_rows(Y[:3], SCORE[:3], 0.5)
    assert rows.to_dict("list") == {
        "actual": ["genuine"] * 3,
        "predicted": ["genuine", "genuine", "junk"],
    }

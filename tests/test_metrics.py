import math

import numpy as np
import pytest
from sklearn.metrics import recall_score

from leadsift.core import curves
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


def test_hot_threshold_is_the_largest_top_band_reaching_the_genuine_rate():
    # ranked: 0.9 g, 0.8 g, 0.7 j, 0.4 g (3 of 4), 0.3 j, 0.25 j, 0.2 g (4 of 7) ...
    assert metrics.hot_threshold(Y, SCORE, 0.7) == 0.4
    assert metrics.hot_threshold(Y, SCORE, 0.8) == 0.8
    assert metrics.hot_threshold(Y, SCORE, 0.4) == 0.01  # every lead: 4 of 10
    assert metrics.hot_threshold(Y, SCORE, 0.45) == 0.1  # 4 of 8; 4 of 9 is below
    # tied scores are in or out together: the 0.9 pair is one band at 50%
    tied_y, tied = np.array([1, 0, 1]), np.array([0.9, 0.9, 0.5])
    assert metrics.hot_threshold(tied_y, tied, 0.6) == 0.5
    assert math.isinf(metrics.hot_threshold(tied_y, tied, 0.9))


@pytest.mark.parametrize("target", [0.5, 0.7, 0.9])
def test_hot_threshold_on_random_scores(target):
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 3000)
    score = np.round(rng.random(3000) * 0.6 + 0.4 * y, 3)  # with ties
    t = metrics.hot_threshold(y, score, target)
    assert y[score >= t].mean() >= target
    assert all(y[score >= lower].mean() < target for lower in np.unique(score[score < t]))


def test_tiers_split_the_leads_at_the_two_thresholds():
    names = {"hot": "A", "warm": "B", "cold": "C"}
    tiers = metrics.Tiers(cold_below=0.3, hot_from=0.7, names=names)
    assert list(tiers.assign(SCORE)) == list("AABCABCCCC")  # SCORE is not sorted
    # a hot band reaching below the business threshold starts at it; no band: no hot lead
    assert list(metrics.Tiers(0.3, 0.1, names).assign(SCORE)) == list("AAACAACCCC")
    assert "A" not in metrics.Tiers(0.3, math.inf, names).assign(SCORE)
    view = metrics.tier_view(Y, tiers.assign(SCORE), names)
    assert view["hot"] == {"name": "A", "leads": 3, "share": 0.3, "genuine_rate": 2 / 3}
    assert view["warm"]["genuine_rate"] == 0.5 and view["cold"]["leads"] == 5
    empty = metrics.tier_view(Y, metrics.Tiers(0.3, math.inf, names).assign(SCORE), names)
    assert empty["hot"]["genuine_rate"] is None and empty["hot"]["leads"] == 0


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
    roc = curves.roc_table(y, score, 50)
    assert (
        len(roc) <= 50
        and roc.iloc[0][["fpr", "tpr"]].tolist() == [0, 0]
        and roc.iloc[-1]["tpr"] == 1
    )
    assert np.isfinite(roc.to_numpy()).all()
    pr = curves.pr_table(y, score, 50)
    assert pr["recall"].is_monotonic_increasing and np.isfinite(pr.to_numpy()).all()
    gains = curves.gains_table(y, score, 50)
    assert gains.iloc[-1][["contacted", "captured"]].tolist() == [1, 1]


def test_calibration_bins_hold_equal_counts():
    rng = np.random.default_rng(2)
    score = rng.random(1000)
    table = curves.calibration_table((rng.random(1000) < score).astype(int), score, 10)
    assert table["rows"].tolist() == [100] * 10
    assert np.abs(table["mean_predicted"] - table["observed_rate"]).max() < 0.15


def test_confusion_rows_name_the_classes():
    rows = metrics.confusion_rows(Y[:3], SCORE[:3], 0.5)
    assert rows.to_dict("list") == {
        "actual": ["genuine"] * 3,
        "predicted": ["genuine", "genuine", "junk"],
    }

import json
import re

from leadsift.report import FIGURES, render_report
from tests.conftest import ROOT

METRICS = json.loads((ROOT / "reports/metrics.json").read_text())
DATA = json.loads((ROOT / "reports/data.json").read_text())


def test_report_has_the_headline_business_view_decision_and_figures():
    promotion = {
        "decision": "challenger",
        "version": "7",
        "model_name": "m",
        "reasons": ["not clearly better"],
    }
    tuning = {
        "metric": "roc_auc",
        "best_value": 0.88,
        "best_trial": 3,
        "n_trials": 9,
        "n_complete": 6,
        "n_pruned": 3,
    }
    text = render_report(METRICS, DATA, tuning=tuning, promotion=promotion, family="random_forest")
    assert f"Test ROC-AUC **{METRICS['test']['roc_auc']:.4f}**" in text
    assert f"**{METRICS['business']['junk_filtered']:.1%} of junk leads are filtered out**" in text
    assert "**challenger** version 7 of `m`" in text and "- not clearly better" in text
    assert "6 completed, 3 pruned" in text and "`random_forest`" in text
    assert re.findall(r"!\[[^]]+\]\(([^)]+)\)", text) == [path for _, path in FIGURES]
    for _, path in FIGURES:  # the links resolve from reports/
        assert (ROOT / "reports" / path).is_file()


def test_report_without_truth_tuning_or_promotion_still_reads():
    metrics = json.loads(json.dumps(METRICS))
    for split in ("test", "validation"):
        for key in ("bayes_roc_auc", "bayes_pr_auc", "roc_auc_share_of_bayes"):
            metrics[split].pop(key)
    text = render_report(metrics, DATA)
    assert "best possible" not in text and "## Promotion" not in text and "## Tuning" not in text
    assert "| ROC-AUC |" in text and "n/a" in text


def test_report_says_whether_incoming_batches_call_for_retraining():
    quiet = {"retrain_recommended": False, "reasons": [], "batches": {"2026-01": {}, "2026-02": {}}}
    assert "No drift alert in batches 2026-01, 2026-02." in render_report(
        METRICS, DATA, drift=quiet
    )
    loud = {
        "retrain_recommended": True,
        "reasons": ["2026-02: platform: PSI 0.23 >= 0.1"],
        "batches": {"2026-01": {}, "2026-02": {}},
    }
    text = render_report(METRICS, DATA, drift=loud)
    assert "**Retraining recommended**" in text and "- 2026-02: platform: PSI 0.23" in text

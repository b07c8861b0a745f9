import json
import re

import pytest

from leadsift.core.report import decision_line
from leadsift.leads.report import FIGURES, headline_metrics, render_report, render_summary, verdict
from tests.conftest import ROOT

METRICS = json.loads((ROOT / "reports/evaluation.json").read_text())
DATA = json.loads((ROOT / "reports/data.json").read_text())


def promotion(decision="challenger", applied=True, version="7", why="workspace of main"):
    return {
        "decision": decision,
        "applied": applied,
        "version": version,
        "model_name": "m",
        "promotion": {"on": applied, "why": why},
        "reasons": ["not clearly better"],
    }


def test_report_has_the_headline_business_view_decision_and_figures():
    tuning = {
        "metric": "roc_auc",
        "best_value": 0.88,
        "best_trial": 3,
        "n_trials": 9,
        "n_complete": 6,
        "n_pruned": 3,
    }
    text = render_report(
        METRICS, DATA, tuning=tuning, promotion=promotion(), family="random_forest"
    )
    assert f"Test ROC-AUC **{METRICS['test']['roc_auc']:.4f}**" in text
    assert f"**{METRICS['business']['junk_filtered']:.1%} of junk leads are filtered out**" in text
    hot = METRICS["tiers"]["test"]["hot"]
    row = f"| hot | score >= {METRICS['tiers']['hot_from']:.3f} | {hot['share']:.1%} |"
    assert row in text
    assert "`m`: **challenger: version 7**." in text and "- not clearly better" in text
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


@pytest.mark.parametrize(
    ("decision", "applied", "said"),
    [
        ("promoted", True, "promoted: version 7 is the champion"),
        ("challenger", True, "challenger: version 7"),
        ("promoted", False, "would be promoted (promotion is off: branch x, not main)"),
        ("challenger", False, "would stay challenger (promotion is off: branch x, not main)"),
        ("rejected", False, "would be rejected (promotion is off: branch x, not main)"),
    ],
)
def test_the_verdict_says_what_happened_or_would_happen(decision, applied, said):
    why = "workspace of main" if applied else "branch x, not main"
    assert verdict(promotion(decision, applied, why=why)) == said


def test_a_register_stage_logs_the_verdict_and_its_reasons_once():
    assert decision_line(promotion()) == "challenger: version 7: not clearly better"
    same = {**promotion("unchanged"), "reasons": ["identical to champion version 7"]}
    assert decision_line(same) == "unchanged (identical to champion version 7)"


def test_the_report_gives_the_gate_s_reasons_as_bullets_and_an_unchanged_model_s_once():
    text = render_report(METRICS, DATA, promotion=promotion())
    assert "`m`: **challenger: version 7**.\n\n- not clearly better\n" in text
    same = {**promotion("unchanged"), "reasons": ["identical to champion version 7"]}
    text = render_report(METRICS, DATA, promotion=same)
    assert text.count("identical to champion version 7") == 1


def test_the_headline_holds_a_few_numbers_most_important_first():
    drift = {"reasons": ["2026-02: platform: PSI 0.23 >= 0.1"]}
    headline = headline_metrics(METRICS, drift)
    assert list(headline) == [
        "roc_auc",
        "bayes_share",
        "pr_auc",
        "junk_filtered",
        "hot_share",
        "hot_genuine",
        "drift_alerts",
    ]
    assert headline["hot_share"] == round(METRICS["tiers"]["test"]["hot"]["share"], 4)
    assert headline["roc_auc"] == round(METRICS["test"]["roc_auc"], 4)
    assert headline["drift_alerts"] == 1
    own = json.loads(json.dumps(METRICS))
    own["test"].pop("roc_auc_share_of_bayes")
    assert "bayes_share" not in headline_metrics(own, None)  # no truth for a team's own data


def test_the_summary_fits_a_screen_and_says_where_the_report_is():
    drift = {
        "retrain_recommended": True,
        "reasons": [f"2026-0{i}: platform: PSI 0.2 >= 0.1" for i in range(1, 6)],
        "batches": {"2026-01": {}, "2026-02": {}},
    }
    text = render_summary(METRICS, DATA, promotion=promotion(), drift=drift, family="rf")
    lines = text.splitlines()
    assert len(lines) <= 25
    assert f"test ROC-AUC {METRICS['test']['roc_auc']:.4f}" in lines[1] and "Bayes" in lines[1]
    assert "promotion: challenger: version 7" in text
    assert "5 alert(s)" in text and "and 2 more" in text and "reports/report.md" in text

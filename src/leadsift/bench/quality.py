"""Section `quality`: test ROC-AUC against the Bayes ceiling, and the default model family against
the other boosting family like with like.

Each family runs the real stages `leads_tune`, `leads_train`, `leads_evaluate` and
`leads_package` in a copy of the built project (its split and truth, `model.family` overridden:
the same study, the same split), then `leads_score` on the scoring section's batch. The default
should stay within 0.001 test ROC-AUC of the other and be the faster.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from leadsift.bench.harness import Bench, Result, check, log, run_stage, stage_copy
from leadsift.bench.scoring import stage_rate
from leadsift.core.config import read_params

FAMILY_PEERS = ("hist_gradient_boosting", "lightgbm")  # compared on the same split and budget
FAMILY_STAGES = ("leads_tune", "leads_train", "leads_evaluate", "leads_package")
FAMILY_INPUTS = ("data/split", "data/raw/truth.parquet")  # what those stages read of the build


def _test_metrics(repo: Path) -> dict[str, float]:
    """The test split's metrics that `leads_evaluate` wrote in `repo`."""
    return json.loads((repo / "reports/evaluation.json").read_text())["test"]


def family_run(bench: Bench, family: str) -> dict[str, Any]:
    """`family` through its stages, each timed as a process: test ROC-AUC, each stage's wall
    time, and the `leads_score` stage's rate on the shared batch."""
    repo = stage_copy(
        bench.workdir / f"family_{family}",
        bench.built_copy(),
        FAMILY_INPUTS,
        {"model.family": family},
    )
    stage_s = {}
    for stage in FAMILY_STAGES:
        log(f"quality: {stage} for {family}")
        stage_s[stage] = round(run_stage(repo, stage).wall_s, 2)
    log(f"quality: leads_score for {family}, without reasons (only lightgbm's has them)")
    scoring = stage_rate(bench, repo, reasons=False)
    return {"roc_auc": _test_metrics(repo)["roc_auc"], "stage_s": stage_s, "scoring": scoring}


def run(bench: Bench) -> list[Result]:
    """The built pipeline against the ceiling; each family's stages against the other's."""
    built = bench.built_copy()
    metrics, params = _test_metrics(built), read_params(built)
    runs = {family: family_run(bench, family) for family in FAMILY_PEERS}
    default = params["model"]["family"]
    other = next(f for f in FAMILY_PEERS if f != default)
    common = {
        "default": default,
        "other": other,
        "families": runs,
        "n_trials": params["tune"]["n_trials"],
        "train_rows": json.loads((built / "reports/train.json").read_text())["rows"],
    }
    rates = [runs[f]["scoring"]["rows_per_s"] for f in (default, other)]
    return [
        check(
            "test ROC-AUC / Bayes ROC-AUC",
            metrics["roc_auc"] / metrics["bayes_roc_auc"],
            roc_auc=metrics["roc_auc"],
            bayes_roc_auc=metrics["bayes_roc_auc"],
            leads=params["generate"]["n_leads"],
        ),
        check(
            "default family's test ROC-AUC - the other boosting family's",
            runs[default]["roc_auc"] - runs[other]["roc_auc"],
            **common,
        ),
        check(
            "other boosting family's leads_train stage / default family's",
            runs[other]["stage_s"]["leads_train"] / runs[default]["stage_s"]["leads_train"],
            **common,
        ),
        check(
            "default family's leads_score rows/s / the other boosting family's",
            rates[0] / rates[1] if None not in rates else None,
            **common,
        ),
    ]

"""The promotion gate: a new model becomes `champion` only if it is good enough and clearly better,
and only where promotion is switched on.

MLflow 3 has no validation gate of its own (Recipes were removed), so the rule lives here:

- below the absolute floor `register.min_roc_auc` on the test split: rejected, no alias;
- no champion yet: the first model above the floor is promoted;
- otherwise both models score the *same* current test split, and a paired bootstrap gives a
  confidence interval for the ROC-AUC difference; the new model is promoted only if the interval's
  lower end exceeds `register.min_improvement`. Otherwise it becomes the `challenger`;
- a model the registry already holds (same bytes, hence same uuid) is not registered again.

The gate decides on every run, but only main moves aliases. Promotion is on when
`LEADSIFT_PROMOTION=on`, off when it is `off`, and otherwise (`auto`, the default) on in the
workspace of `register.main_branch` and off in DVC experiments and on any other branch or detached
checkout, such as a pull request's. With promotion off the gate records what it would do
(`would_promote`) and registers nothing.

The decision and its reasons go to reports/promotion.json and to the model version's tags.
`python -m leadsift.registry sync` (run by `make repro`) reruns the gate when promotion is on and
the store has never seen the workspace's model: a fresh clone, or a newly configured server.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from mlflow import MlflowClient
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from sklearn.metrics import roc_auc_score

from leadsift import model_store, tracking
from leadsift.cli import run_stage
from leadsift.config import load_params
from leadsift.io import InputError

CHAMPION, CHALLENGER = "champion", "challenger"
PROMOTION_ENV = "LEADSIFT_PROMOTION"


@dataclass(frozen=True)
class Mode:
    """Whether this run may move aliases, and why (said in the report)."""

    promote: bool
    why: str


def current_branch() -> str | None:
    """The checked-out git branch, or None when HEAD is detached (as in a pull request's CI)."""
    command = ["git", "symbolic-ref", "--short", "-q", "HEAD"]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    return result.stdout.strip() or None


def promotion_mode(
    main_branch: str, env: Mapping[str, str] | None = None, branch: str | None = None
) -> Mode:
    """Promotion is on only in the workspace of the main branch, unless LEADSIFT_PROMOTION says."""
    env = os.environ if env is None else env
    setting = (env.get(PROMOTION_ENV) or "auto").strip().lower()
    if setting in ("on", "off"):
        return Mode(setting == "on", f"{PROMOTION_ENV}={setting}")
    if setting != "auto":
        raise InputError(f"{PROMOTION_ENV} must be on, off or auto; got {setting!r}")
    if experiment := env.get("DVC_EXP_NAME"):
        return Mode(False, f"DVC experiment {experiment}")
    branch = current_branch() if branch is None else branch
    if branch == main_branch:
        return Mode(True, f"workspace of {main_branch}")
    return Mode(False, f"branch {branch}, not {main_branch}" if branch else "detached checkout")


@dataclass(frozen=True)
class Comparison:
    """New minus champion test ROC-AUC, with a bootstrap confidence interval."""

    difference: float
    low: float
    high: float
    confidence: float


def compare_auc(
    y: np.ndarray,
    new: np.ndarray,
    old: np.ndarray,
    *,
    n_bootstrap: int,
    confidence: float,
    seed: int,
) -> Comparison:
    """Paired bootstrap: resample leads, score both models on the same resample each time."""
    y, new, old = np.asarray(y), np.asarray(new), np.asarray(old)
    rng = np.random.default_rng(seed)
    differences = []
    for _ in range(n_bootstrap):
        rows = rng.integers(0, len(y), len(y))
        if y[rows].min() == y[rows].max():
            continue
        differences.append(roc_auc_score(y[rows], new[rows]) - roc_auc_score(y[rows], old[rows]))
    tail = (1 - confidence) / 2
    low, high = np.quantile(differences, [tail, 1 - tail])
    difference = roc_auc_score(y, new) - roc_auc_score(y, old)
    return Comparison(float(difference), float(low), float(high), confidence)


@dataclass(frozen=True)
class Decision:
    outcome: str  # promoted | challenger | rejected | unchanged
    alias: str | None
    reasons: list[str] = field(default_factory=list)


def decide(
    roc_auc: float,
    *,
    floor: float,
    min_improvement: float,
    comparison: Comparison | None,
    champion_version: str | None,
) -> Decision:
    """Apply the gate to a model the registry does not hold yet (see the module docstring)."""
    if roc_auc < floor:
        return Decision(
            "rejected", None, [f"test ROC-AUC {roc_auc:.4f} is below the floor {floor}"]
        )
    above = f"test ROC-AUC {roc_auc:.4f} clears the floor {floor}"
    if comparison is None:
        return Decision("promoted", CHAMPION, [above, "there is no champion yet"])
    interval = (
        f"ROC-AUC difference to champion version {champion_version}: {comparison.difference:+.4f}, "
        f"{comparison.confidence:.0%} interval [{comparison.low:+.4f}, {comparison.high:+.4f}]"
    )
    if comparison.low > min_improvement:
        return Decision(
            "promoted", CHAMPION, [above, interval, f"lower end above {min_improvement}"]
        )
    verdict = f"not clearly better: the lower end is not above {min_improvement}"
    return Decision("challenger", CHALLENGER, [above, interval, verdict])


def current_champion(model_name: str) -> ModelVersion | None:
    """The version that holds the `champion` alias, if the registered model and alias exist."""
    try:
        return MlflowClient().get_model_version_by_alias(model_name, CHAMPION)
    except MlflowException:
        return None


def registered_version(model_name: str, model_uuid: str) -> ModelVersion | None:
    """The version of `model_name` that holds this very model (by its uuid), if any."""
    try:
        found = MlflowClient().search_model_versions(
            f"name = '{model_name}' and tags.`{tracking.MODEL_UUID_TAG}` = '{model_uuid}'"
        )
    except MlflowException:
        return None
    return min(found, key=lambda v: int(v.version), default=None)


def record(model_name: str, model_uri: str, decision: Decision, tags: dict[str, str]) -> str:
    """Register the model version, tag it with the decision, and move the alias it earned."""
    version = str(mlflow.register_model(model_uri, model_name).version)
    client = MlflowClient()
    for key, value in {
        **tags,
        "decision": decision.outcome,
        "reasons": "; ".join(decision.reasons),
    }.items():
        client.set_model_version_tag(model_name, version, key, value)
    if decision.alias:
        client.set_registered_model_alias(model_name, decision.alias, version)
    return version


def _known(version: ModelVersion, champion: ModelVersion | None) -> Decision:
    if champion is not None and champion.version == version.version:
        return Decision("unchanged", None, [f"identical to champion version {version.version}"])
    earlier = version.tags.get("decision", "registered")
    return Decision(
        "unchanged", None, [f"already registered as version {version.version} ({earlier})"]
    )


def gate_and_register(
    *,
    model_dir: Path,
    test_records: pd.DataFrame,
    y_test: np.ndarray,
    roc_auc: float,
    gate: Mapping[str, Any],
    experiment: str,
    model_name: str,
    mode: Mode,
) -> dict[str, Any]:
    """Decide on the model in `model_dir`; where promotion is on, register it and move its alias.

    Returns the decision as a report (reports/promotion.json).
    """
    uuid = model_store.model_uuid(model_dir)
    tracking.point_at_store()
    champion = current_champion(model_name)
    known = registered_version(model_name, uuid)
    comparison = None
    if known is not None:
        decision = _known(known, champion)
    else:
        if champion is not None and roc_auc >= gate["min_roc_auc"]:
            champion_model = model_store.load_model(f"models:/{model_name}@{CHAMPION}")
            comparison = compare_auc(
                y_test,
                model_store.load_model(model_dir).predict_proba(test_records)[:, 1],
                champion_model.predict_proba(test_records)[:, 1],
                n_bootstrap=gate["n_bootstrap"],
                confidence=gate["confidence"],
                seed=gate["seed"],
            )
        decision = decide(
            roc_auc,
            floor=gate["min_roc_auc"],
            min_improvement=gate["min_improvement"],
            comparison=comparison,
            champion_version=str(champion.version) if champion else None,
        )
    applied = mode.promote and decision.outcome != "unchanged"
    version = str(known.version) if known is not None else None
    if applied:
        tags = {tracking.MODEL_UUID_TAG: uuid, "test_roc_auc": f"{roc_auc:.6f}"}
        model_uri = tracking.logged_model_uri(experiment, model_dir)
        version = record(model_name, model_uri, decision, tags)
    return {
        "model_name": model_name,
        "decision": decision.outcome,
        "would_promote": decision.alias == CHAMPION,
        "promotion": {"on": mode.promote, "why": mode.why},
        "applied": applied,
        "alias": decision.alias if applied else None,
        "version": version,
        "champion_before": str(champion.version) if champion else None,
        "reasons": decision.reasons,
        "test_roc_auc": roc_auc,
        "comparison": comparison.__dict__ if comparison else None,
        "gate": {k: v for k, v in gate.items() if k != "main_branch"},
    }


def needs_gate(root: Path, model_name: str, main_branch: str) -> bool:
    """True when promotion is on and the store holds no version of the workspace's model."""
    model_dir = root / "models" / "model"
    if not promotion_mode(main_branch).promote or not model_dir.is_dir():
        return False
    tracking.point_at_store()
    return registered_version(model_name, model_store.model_uuid(model_dir)) is None


def sync() -> None:
    """Let the gate see this workspace's model if promotion is on and the store has never seen it:
    DVC skips `register` when its committed output is up to date (a fresh clone, a new server)."""
    params = load_params()
    name, branch = params["mlflow"]["model_name"], params["register"]["main_branch"]
    if not needs_gate(Path.cwd(), name, branch):
        return
    print(f"{tracking.tracking_uri()} holds no version of models/model: running the gate")
    sys.stdout.flush()
    for command in (["dvc", "repro", "--force", "--single-item", "register"], ["dvc", "repro"]):
        subprocess.run(command, check=True)


if __name__ == "__main__":
    if sys.argv[1:] != ["sync"]:
        sys.exit("usage: python -m leadsift.registry sync")
    run_stage(sync)

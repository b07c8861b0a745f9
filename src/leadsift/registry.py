"""The promotion gate: a new model becomes `champion` only if it is good enough and clearly better.

MLflow 3 has no validation gate of its own (Recipes were removed), so the rule lives here:

- below the absolute floor `register.min_roc_auc` on the test split: rejected, no alias;
- no champion yet: the first model above the floor is promoted;
- otherwise both models score the *same* current test split, and a paired bootstrap gives a
  confidence interval for the ROC-AUC difference; the new model is promoted only if the interval's
  lower end exceeds `register.min_improvement`. Otherwise it becomes the `challenger`;
- the same model as the champion (same bytes, hence same uuid) is not registered again.

The decision and its reasons go to reports/promotion.json and to the model version's tags.
"""

from __future__ import annotations

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

CHAMPION, CHALLENGER = "champion", "challenger"


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
    same_as_champion: bool = False,
) -> Decision:
    """Apply the gate (see the module docstring)."""
    if same_as_champion:
        return Decision("unchanged", None, [f"identical to champion version {champion_version}"])
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


def gate_and_register(
    *,
    model_dir: Path,
    test_records: pd.DataFrame,
    y_test: np.ndarray,
    roc_auc: float,
    gate: Mapping[str, Any],
    experiment: str,
    model_name: str,
) -> dict[str, Any]:
    """Register the model logged by `train` if it earns it, and return the decision as a report."""
    uuid = model_store.model_uuid(model_dir)
    run = tracking.run_of_model(experiment, uuid)  # also points MLflow at the project's store
    champion = current_champion(model_name)
    same = champion is not None and champion.tags.get(tracking.MODEL_UUID_TAG) == uuid
    comparison = None
    if champion is not None and not same and roc_auc >= gate["min_roc_auc"]:
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
        same_as_champion=same,
    )
    version = None
    if decision.outcome != "unchanged":
        tags = {tracking.MODEL_UUID_TAG: uuid, "test_roc_auc": f"{roc_auc:.6f}"}
        version = record(model_name, run.data.tags[tracking.MODEL_URI_TAG], decision, tags)
    return {
        "model_name": model_name,
        "decision": decision.outcome,
        "alias": decision.alias,
        "version": version,
        "champion_before": str(champion.version) if champion else None,
        "reasons": decision.reasons,
        "test_roc_auc": roc_auc,
        "comparison": comparison.__dict__ if comparison else None,
        "gate": dict(gate),
    }

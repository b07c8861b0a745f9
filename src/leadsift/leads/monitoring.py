"""Drift monitoring of incoming lead batches: is the lead model still fit for the leads it scores?

Features are compared with the training split. Scores are compared with the model's scores on the
test split, which it never saw: on training rows its scores are sharper than they will ever be in
use. The measures (PSI, KS and chi-square tests) are `core.monitoring`'s; this module decides when
a batch calls for retraining. A feature alert needs both a large PSI and a rejecting test, so large
batches do not alarm on trivial moves and small batches do not alarm on noise. Once a batch's
labels arrive, its realised ROC-AUC and genuine rate show whether the model still ranks and is
still calibrated; a pure change in the genuine rate shows only there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from leadsift.core.io import InputError
from leadsift.leads.schema import ColumnRoles, positive_mask


@dataclass(frozen=True)
class Thresholds:
    psi_alert: float
    p_value: float
    unseen_alert: float
    auc_drop_alert: float
    rate_gap_alert: float

    @classmethod
    def from_params(cls, monitor: dict[str, Any]) -> Thresholds:
        return cls(**{name: monitor[name] for name in cls.__dataclass_fields__})


def label_outcome(y: np.ndarray, probability: np.ndarray) -> dict[str, Any]:
    """Realised quality of a labelled batch: ROC-AUC (when both classes occur) and calibration."""
    both = len(np.unique(y)) == 2
    return {
        "rows": len(y),
        "roc_auc": float(roc_auc_score(y, probability)) if both else None,
        "genuine_rate": float(np.mean(y)),
        "mean_probability": float(np.mean(probability)),
    }


def labelled_scores(
    scored: pd.DataFrame, labels: pd.DataFrame, roles: ColumnRoles, source: str
) -> tuple[np.ndarray, np.ndarray]:
    """(label, probability) of the scored leads whose labels have arrived (1 = positive label)."""
    if missing := [c for c in (roles.id_column, roles.target) if c not in labels.columns]:
        raise InputError(
            f"{source}: labels need the columns {missing} (`leads.id`, `leads.target`); "
            f"the file has {list(labels.columns)[:12]}"
        )
    key = roles.id_column
    known = (
        pd.DataFrame(
            {
                "id": labels[key].astype(str),
                "label": positive_mask(labels[roles.target], roles.positive_label),
            }
        )
        .dropna()
        .drop_duplicates("id", keep="last")
    )
    merged = pd.DataFrame({"id": scored[key].astype(str), "probability": scored["probability"]})
    merged = merged.merge(known, on="id", how="inner")  # ids compared as text
    return merged["label"].astype(int).to_numpy(), merged["probability"].to_numpy()


def batch_alerts(
    features: pd.DataFrame,
    score: dict[str, float],
    labels: dict[str, Any] | None,
    *,
    test_roc_auc: float,
    limits: Thresholds,
) -> list[str]:
    """Why this batch should make the team retrain: one "subject: what crossed which threshold"
    line per alert, the subject being a feature, `scores` or `labels`."""
    alerts = []
    corrected = limits.p_value / max(len(features), 1)  # Bonferroni over the batch's features
    for name, row in features.iterrows():
        if row["psi"] >= limits.psi_alert and row["p_value"] < corrected:
            alerts.append(f"{name}: PSI {row['psi']:.2f} >= {limits.psi_alert:g}")
        share, expected = row["unseen_share"], row.get("unseen_expected")
        expected = 0.0 if expected is None or pd.isna(expected) else expected
        if share is not None and not pd.isna(share) and share - expected >= limits.unseen_alert:
            alerts.append(
                f"{name}: {share:.1%} of leads have a category never seen in training "
                f"({expected:.1%} expected from training's rare categories; alert at "
                f"{limits.unseen_alert:.0%} more)"
            )
    if score["psi"] >= limits.psi_alert and score["p_value"] < limits.p_value:
        alerts.append(
            f"scores: PSI {score['psi']:.2f} >= {limits.psi_alert:g} against the test split"
        )
    realised = (labels or {}).get("roc_auc")
    if realised is not None and test_roc_auc - realised >= limits.auc_drop_alert:
        alerts.append(
            f"labels: realised ROC-AUC {realised:.3f} vs {test_roc_auc:.3f} on test "
            f"(alert at a drop of {limits.auc_drop_alert:g})"
        )
    if labels and abs(gap := labels["genuine_rate"] - labels["mean_probability"]) >= (
        limits.rate_gap_alert
    ):
        alerts.append(
            f"labels: genuine rate {labels['genuine_rate']:.1%} vs "
            f"{labels['mean_probability']:.1%} predicted ({gap:+.1%}; alert at a gap of "
            f"{limits.rate_gap_alert:.0%})"
        )
    return alerts


def drift_report(batches: dict[str, dict[str, Any]], limits: Thresholds) -> dict[str, Any]:
    """reports/drift.json: every batch's figures, and whether (and why) to retrain."""
    reasons = [f"{name}: {alert}" for name, batch in batches.items() for alert in batch["alerts"]]
    return {
        "retrain_recommended": bool(reasons),
        "reasons": reasons,
        "thresholds": dict(vars(limits)),
        "batches": batches,
    }


def drift_table(report: dict[str, Any]) -> pd.DataFrame:
    """reports/monitor/drift.csv: one row per batch and feature (and `scores`), with PSI, test
    p-value, unseen share and whether that subject raised an alert in that batch."""
    rows = []
    for batch, entry in report["batches"].items():
        subjects = {alert.split(": ", 1)[0] for alert in entry["alerts"]}
        score = {"kind": "score", "psi": entry["score"]["psi"], "test": "ks",
                 "p_value": entry["score"]["p_value"], "unseen_share": None,
                 "unseen_expected": None}  # fmt: skip
        for feature, drift in [*entry["features"].items(), ("scores", score)]:
            rows.append({"batch": batch, "feature": feature, **drift, "alert": feature in subjects})
    return pd.DataFrame(rows)

"""Drift monitoring: how far each incoming batch has moved from what the model learned from.

Features are compared with the training split. Scores are compared with the model's scores on the
test split, which it never saw: on training rows its scores are sharper than they will ever be in
use. PSI (population stability index) measures how far a distribution moved; a KS test (numbers) or
a chi-square test (categories) says whether a move that large could be chance at the batch's size.
A feature alert needs both, so large batches do not alarm on trivial moves and small batches do not
alarm on noise. Once a batch's labels arrive, its realised ROC-AUC and genuine rate show whether the
model still ranks and is still calibrated; a pure change in the genuine rate shows only there.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.metrics import roc_auc_score

from leadsift.io import InputError
from leadsift.schema import ColumnRoles, positive_mask

EPSILON = 1e-4  # floor on a bin's share, so an empty bin adds a large but finite PSI term


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


def psi(expected: np.ndarray, actual: np.ndarray) -> float:
    """Population stability index between two count vectors over the same bins."""
    p = np.clip(expected / max(expected.sum(), 1), EPSILON, None)
    q = np.clip(actual / max(actual.sum(), 1), EPSILON, None)
    return float(np.sum((q - p) * np.log(q / p)))


def bin_edges(reference: pd.Series, bins: int) -> np.ndarray:
    """Inner edges at the reference's quantiles; repeated values (a count's zeros) share one bin."""
    values = reference.dropna().to_numpy(dtype=float)
    if len(values) == 0:
        return np.array([])
    return np.unique(np.quantile(values, np.linspace(0, 1, bins + 1)[1:-1], method="inverted_cdf"))


def _binned(values: pd.Series, edges: np.ndarray) -> np.ndarray:
    """Counts per bin ((-inf, e0], (e0, e1], ..., (e_last, inf)), then a count of missing values."""
    numbers = values.to_numpy(dtype=float)
    present = ~np.isnan(numbers)
    counts = np.bincount(np.searchsorted(edges, numbers[present]), minlength=len(edges) + 1)
    return np.append(counts, (~present).sum())


def numeric_drift(reference: pd.Series, batch: pd.Series, bins: int) -> dict[str, Any]:
    """PSI over the reference's quantile bins (plus a missing bin) and the two-sample KS test."""
    edges = bin_edges(reference, bins)
    left, right = reference.dropna(), batch.dropna()
    p_value = stats.ks_2samp(left, right).pvalue if len(left) and len(right) else 1.0
    return {
        "kind": "numeric",
        "psi": psi(_binned(reference, edges), _binned(batch, edges)),
        "test": "ks",
        "p_value": float(p_value),
        "unseen_share": None,
    }


def categorical_drift(reference: pd.Series, batch: pd.Series) -> dict[str, Any]:
    """PSI over the training levels plus `missing` and `unseen` bins, a chi-square test of the
    two tables, and the share of the batch's leads whose category training never saw."""
    ref = reference.astype(object).where(reference.notna(), "(missing)")
    new = batch.astype(object).where(batch.notna(), "(missing)")
    known = set(ref)
    new = new.where(new.isin(known), "(unseen)")
    levels = sorted(known | set(new))
    table = np.array(
        [
            ref.value_counts().reindex(levels, fill_value=0),
            new.value_counts().reindex(levels, fill_value=0),
        ]
    )
    table = table[:, table.sum(axis=0) > 0]
    p_value = stats.chi2_contingency(table).pvalue if table.shape[1] > 1 else 1.0
    return {
        "kind": "categorical",
        "psi": psi(table[0], table[1]),
        "test": "chi-square",
        "p_value": float(p_value),
        "unseen_share": float((new == "(unseen)").mean()) if len(new) else 0.0,
    }


def feature_drift(
    reference: pd.DataFrame,
    batch: pd.DataFrame,
    *,
    categorical: Sequence[str],
    numeric: Sequence[str],
    bins: int,
) -> pd.DataFrame:
    """One row per feature: kind, PSI, test, p-value and (categories) unseen share."""
    rows = {c: categorical_drift(reference[c], batch[c]) for c in categorical}
    rows |= {c: numeric_drift(reference[c], batch[c], bins) for c in numeric}
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("feature")


def score_drift(reference: np.ndarray, batch: np.ndarray, bins: int) -> dict[str, float]:
    """How the batch's predicted probabilities moved from the test split's."""
    shift = numeric_drift(pd.Series(reference), pd.Series(batch), bins)
    return {
        "psi": shift["psi"],
        "p_value": shift["p_value"],
        "mean_probability": float(np.mean(batch)) if len(batch) else None,
    }


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
        share = row["unseen_share"]
        if share is not None and not pd.isna(share) and share >= limits.unseen_alert:
            alerts.append(
                f"{name}: {share:.1%} of leads have a category never seen in training "
                f"(alert at {limits.unseen_alert:.0%})"
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
                 "p_value": entry["score"]["p_value"], "unseen_share": None}  # fmt: skip
        for feature, drift in [*entry["features"].items(), ("scores", score)]:
            rows.append({"batch": batch, "feature": feature, **drift, "alert": feature in subjects})
    return pd.DataFrame(rows)

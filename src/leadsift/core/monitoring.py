"""Drift measures shared by both pipelines: how far a batch's distribution has moved from a
reference, and whether a move that large could be chance at the batch's size.

PSI (population stability index) measures how far a distribution moved, over bins taken from the
reference; a KS test (numbers) or a chi-square test (categories) says whether the move is more than
noise. Each pipeline's monitor decides from these when to alert.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

EPSILON = 1e-4  # floor on a bin's share, so an empty bin adds a large but finite PSI term


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
    two tables, and the share of the batch's leads whose category training never saw, next to
    the share expected from the reference's own sample (`unseen_expected`)."""
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
        "unseen_expected": unseen_expected(ref),
    }


def unseen_expected(reference: pd.Series) -> float:
    """The share of later rows expected to hold a category the reference never saw, with no
    drift at all: the Good-Turing estimate, the reference's share of categories seen once. A
    small reference of a long-tailed column (cities) misses many real categories."""
    counts = reference.value_counts()
    return float((counts == 1).sum() / len(reference)) if len(reference) else 0.0


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


def subject_alerts(table: pd.DataFrame, psi_alert: float, p_value: float) -> list[str]:
    """One line per subject (a row of `table`: a feature, the scores, the segments) whose PSI
    reaches `psi_alert` and whose test rejects at `p_value`, Bonferroni-corrected over the
    batch's subjects."""
    corrected = p_value / max(len(table), 1)
    return [
        f"{name}: PSI {row['psi']:.2f} >= {psi_alert:g}"
        for name, row in table.iterrows()
        if row["psi"] >= psi_alert and row["p_value"] < corrected
    ]


def drift_table(report: dict[str, Any]) -> pd.DataFrame:
    """One row per batch and subject of a report's `months` or `batches`, with PSI, p-value and
    whether it alerted (the drift heatmap's table)."""
    rows = []
    batches = report.get("months") or report.get("batches") or {}
    for month, entry in batches.items():
        alerted = {alert.split(": ", 1)[0] for alert in entry["alerts"]}
        for subject, drift in entry["subjects"].items():
            rows.append({"batch": month, "feature": subject, **drift, "alert": subject in alerted})
    return pd.DataFrame(rows)

"""Segment drift of later months: have the customers moved away from what the segmentation
learned, enough to segment them anew?

Per month, against the training customers: each feature the clustering sees (PSI over the
training deciles and a KS test) and the segment shares (PSI over the segments and a chi-square
test), with `core.monitoring`'s measures. A subject alerts when its PSI reaches `psi_alert` and its
test rejects at `p_value` (Bonferroni over the month's subjects); any alert recommends a new
segmentation.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from leadsift.core.monitoring import categorical_drift, feature_drift

SEGMENTS = "segments"


def month_drift(
    reference: pd.DataFrame, month: pd.DataFrame, features: Sequence[str], bins: int
) -> pd.DataFrame:
    """One row per feature and one for the segment shares: PSI, test and p-value."""
    table = feature_drift(reference, month, categorical=[], numeric=list(features), bins=bins)
    shares = categorical_drift(reference["segment"].astype(str), month["segment"].astype(str))
    return pd.concat([table, pd.DataFrame({SEGMENTS: shares}).T.rename_axis("feature")])


def month_alerts(table: pd.DataFrame, psi_alert: float, p_value: float) -> list[str]:
    """Why this month calls for a new segmentation, one line per subject that alerts."""
    corrected = p_value / max(len(table), 1)
    return [
        f"{name}: PSI {row['psi']:.2f} >= {psi_alert:g}"
        for name, row in table.iterrows()
        if row["psi"] >= psi_alert and row["p_value"] < corrected
    ]


def drift_report(months: dict[str, dict[str, Any]], thresholds: dict[str, Any]) -> dict[str, Any]:
    """reports/customers/drift.json: every month's figures and whether (and why) to re-segment."""
    reasons = [f"{name}: {alert}" for name, month in months.items() for alert in month["alerts"]]
    return {
        "resegment_recommended": bool(reasons),
        "reasons": reasons,
        "thresholds": dict(thresholds),
        "months": months,
    }


def drift_table(report: dict[str, Any]) -> pd.DataFrame:
    """One row per month and subject, with PSI, p-value and whether it alerted."""
    rows = []
    for month, entry in report["months"].items():
        alerted = {alert.split(": ", 1)[0] for alert in entry["alerts"]}
        for subject, drift in entry["subjects"].items():
            rows.append({"batch": month, "feature": subject, **drift, "alert": subject in alerted})
    return pd.DataFrame(rows)

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


def drift_report(months: dict[str, dict[str, Any]], thresholds: dict[str, Any]) -> dict[str, Any]:
    """reports/customers/drift.json: every month's figures and whether (and why) to re-segment."""
    reasons = [f"{name}: {alert}" for name, month in months.items() for alert in month["alerts"]]
    return {
        "resegment_recommended": bool(reasons),
        "reasons": reasons,
        "thresholds": dict(thresholds),
        "months": months,
    }

"""Segment drift of later months: have the customers moved away from what the segmentation
learned, enough to segment them anew?

Per month, against the training customers: each feature the clustering sees (PSI over the
training deciles and a KS test) and the segment shares (PSI over the segments and a chi-square
test), with `core.monitoring`'s measures. A subject alerts when its PSI reaches `psi_alert` and its
test rejects at `p_value` (Bonferroni over the month's subjects); any alert recommends a new
segmentation.

Some features move with the calendar whatever the customers do: a customer's recency and tenure
grow by a month every month it does not buy, and its orders per month follow its tenure, so a
closed group of customers drifts on them just by ageing. They are measured and shown, but left
out of the verdict (`calendar_features`), so that the monitor alerts on behaviour.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from leadsift.core.io import InputError
from leadsift.core.monitoring import categorical_drift, feature_drift, subject_alerts
from leadsift.customers.features import FEATURES

SEGMENTS = "segments"


def month_drift(
    reference: pd.DataFrame, month: pd.DataFrame, features: Sequence[str], bins: int
) -> pd.DataFrame:
    """One row per feature and one for the segment shares: PSI, test and p-value."""
    table = feature_drift(reference, month, categorical=[], numeric=list(features), bins=bins)
    shares = categorical_drift(reference["segment"].astype(str), month["segment"].astype(str))
    return pd.concat([table, pd.DataFrame({SEGMENTS: shares}).T.rename_axis("feature")])


CALENDAR_WHY = "they move as customers age, whatever they do"


def month_alerts(table: pd.DataFrame, settings: Mapping[str, Any]) -> list[str]:
    """The month's alerts (`core.monitoring.subject_alerts`) on every subject but the calendar
    features."""
    if unknown := [f for f in settings["calendar_features"] if f not in FEATURES]:
        raise InputError(
            f"config.yaml: `customers_monitor.calendar_features` names {', '.join(unknown)}, "
            f"which are not customer features ({', '.join(FEATURES)})"
        )
    behaviour = table.drop(index=list(settings["calendar_features"]), errors="ignore")
    return subject_alerts(behaviour, settings["psi_alert"], settings["p_value"])


def drift_report(months: dict[str, dict[str, Any]], settings: Mapping[str, Any]) -> dict[str, Any]:
    """reports/customers/drift.json: every month's figures and whether (and why) to re-segment."""
    reasons = [f"{name}: {alert}" for name, month in months.items() for alert in month["alerts"]]
    return {
        "resegment_recommended": bool(reasons),
        "reasons": reasons,
        "thresholds": {k: v for k, v in settings.items() if k != "calendar_features"},
        "not_in_verdict": {"features": list(settings["calendar_features"]), "why": CALENDAR_WHY},
        "months": months,
    }

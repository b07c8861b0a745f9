"""Drift of later days of clicks: have the clicks moved away from those the model was shown to
hold on?

The reference is the test day, the last labelled day, on which evaluation measured the model: a
click's features read the log's history, so a later day is compared with the day closest to it in
that respect. Per later day, a seeded sample of its clicks against one of the test day's: each
feature the model reads (PSI over the reference's deciles and a KS test, `core.monitoring`) and
the model's scores. A subject alerts when its PSI reaches `psi_alert` and its test rejects at
`p_value` (Bonferroni over the day's subjects); any alert recommends retraining. The install rates
(`features.RateBefore`) are each level's, updated every day by design: their moves are reported,
not alerted on, and what they do to the scores is. Where the later days' own files carry labels
(they arrive later in real life), the installs observed are set against those predicted, with the
day's ROC-AUC. Samples keep memory small whatever the days' size.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import duckdb
import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from leadsift.clicks.features import POINT_IN_TIME, RateBefore, day_name
from leadsift.clicks.model import ClickScorer
from leadsift.clicks.training import unit_sql
from leadsift.core.monitoring import feature_drift, numeric_drift, subject_alerts

SCORES = "scores"
UPDATED_DAILY = [f.name for f in POINT_IN_TIME if isinstance(f, RateBefore)]


def sample(
    connection: duckdb.DuckDBPyConnection,
    features: str,
    columns: Sequence[str],
    days: Sequence[int],
    *,
    rows: int,
    seed: int,
) -> pd.DataFrame:
    """About `rows` clicks of `days`, drawn by click id (the same on every run and engine)."""
    listed = ", ".join(str(d) for d in days)
    total = connection.execute(
        f"SELECT COUNT(*) FROM {features} WHERE day IN ({listed})"
    ).fetchone()[0]
    share = min(1.0, rows / max(total, 1))
    return connection.execute(
        f"SELECT {', '.join(columns)} FROM {features} WHERE day IN ({listed}) "
        f"AND {unit_sql(seed)} < {share} ORDER BY click_id"
    ).df()


def day_drift(
    reference: pd.DataFrame,
    reference_scores: np.ndarray,
    batch: pd.DataFrame,
    model: ClickScorer,
    bins: int,
) -> pd.DataFrame:
    """One row per feature the model reads and one for its scores (the reference's scored once,
    for every day): PSI, test and p-value."""
    table = feature_drift(reference, batch, categorical=[], numeric=list(model.features), bins=bins)
    scores = numeric_drift(
        pd.Series(reference_scores), pd.Series(model.predict_proba(batch)[:, 1]), bins
    )
    return pd.concat([table, pd.DataFrame({SCORES: scores}).T.rename_axis("feature")])


def label_outcome(
    connection: duckdb.DuckDBPyConnection, scored: str, labels: str, *, rate: float, seed: int
) -> dict[str, Any] | None:
    """A later day's installs observed against predicted (over all its clicks), and its ROC-AUC
    on every attributed click and a share `rate` of the rest, where its labels are known."""
    joined = f"{scored} s JOIN {labels} l ON l.click_id = s.click_id"
    clicks, installs, predicted = connection.execute(
        f"SELECT COUNT(*), SUM(l.is_attributed), SUM(s.probability) FROM {joined}"
    ).fetchone()
    if not clicks:
        return None
    drawn = connection.execute(
        f"SELECT l.is_attributed, s.probability FROM {joined} WHERE l.is_attributed = 1 "
        f"OR {unit_sql(seed, 's.click_id')} < {rate} ORDER BY s.click_id"
    ).df()
    y = drawn["is_attributed"].to_numpy()
    auc = float(roc_auc_score(y, drawn["probability"])) if 0 < y.sum() < len(y) else None
    return {
        "clicks_labelled": clicks,
        "installs": int(installs),
        "predicted_installs": float(predicted),
        "installs_ratio": float(predicted) / max(int(installs), 1),
        "roc_auc": auc,
    }


def drift_report(
    connection: duckdb.DuckDBPyConnection,
    model: ClickScorer,
    features: str,
    settings: Mapping[str, Any],
    *,
    reference_days: Sequence[int],
    later_days: Sequence[int],
) -> dict[str, Any]:
    """reports/clicks/drift.json: every later day's drift against the test day, and whether
    (and why) to retrain."""
    columns = list(dict.fromkeys(["click_id", *model.features]))
    rows, bins = settings["sample_rows"], settings["bins"]
    reference = sample(connection, features, columns, reference_days, rows=rows, seed=1)
    reference_scores = model.predict_proba(reference)[:, 1]
    batches = {}
    for day in later_days:
        batch = sample(connection, features, columns, [day], rows=rows, seed=2)
        table = day_drift(reference, reference_scores, batch, model, bins)
        batches[day_name(day)] = {
            "clicks_sampled": len(batch),
            "alerts": subject_alerts(
                table.drop(index=UPDATED_DAILY), settings["psi_alert"], settings["p_value"]
            ),
            "subjects": table.to_dict(orient="index"),
        }
    reasons = [f"{day}: {alert}" for day, entry in batches.items() for alert in entry["alerts"]]
    return {
        "retrain_recommended": bool(reasons),
        "reasons": reasons,
        "thresholds": dict(settings),
        "reference_days": [day_name(d) for d in reference_days],
        "reference_clicks_sampled": len(reference),
        "batches": batches,
    }

"""Batch scoring: the champion (or the pipeline's own model) scores a batch of incoming leads.

The batch goes through the same cleaning and row accounting as the training export (`prepare`):
exact duplicates are dropped and impossible rows quarantined with a reason, so every incoming lead
is accounted for. The model itself then normalises and featurizes the records exactly as it did in
training, and unseen categories simply fall into the collapsed `others` level.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from leadsift.core import model_store
from leadsift.leads import reasons
from leadsift.leads.metrics import Tiers
from leadsift.leads.models import TRUSTED_TYPES
from leadsift.leads.schema import ColumnRoles, raw_records

REGISTRY_PREFIX = "models:/"


def load_scoring_model(source: str) -> tuple[Pipeline, str]:
    """Load the model to score with, and a label saying which model version it is.

    `source` is a model directory saved by `train` (the default, `models/model`) or a registry URI
    such as `models:/leadsift-junk-lead@champion`; nothing else is loaded (a model is code).
    """
    if not source.startswith(REGISTRY_PREFIX):
        model = model_store.load_model(source, TRUSTED_TYPES)
        return model, f"{source}@{model_store.model_uuid(source)[:12]}"
    import mlflow.sklearn  # noqa: PLC0415 - only registry scoring needs the tracking client

    from leadsift.core.tracking import alias_version  # noqa: PLC0415

    name, version = alias_version(source, "`score.model` in config.yaml")
    label = f"{name} v{version}"
    return mlflow.sklearn.load_model(source), label


def score_leads(
    model: Pipeline,
    leads: pd.DataFrame,
    roles: ColumnRoles,
    *,
    tiers: Tiers,
    model_version: str,
    with_reasons: bool = True,
) -> pd.DataFrame:
    """The clean batch with its probability, 0-100 score, tier, junk flag (below the business
    threshold) and, where the model family has exact contributions, the reasons: the inputs that
    raised and lowered each lead's score most (`raises_1..3`, `lowers_1..3`)."""
    records = raw_records(leads, roles)
    if with_reasons and reasons.explains(model):
        probability, texts = reasons.explain(model, records)
    else:
        probability, texts = model.predict_proba(records)[:, 1], None
    scored = leads.assign(
        probability=probability,
        lead_score=np.round(100 * probability, 1),
        tier=tiers.assign(probability),
        is_junk=probability < tiers.cold_below,
        model_version=model_version,
    )
    return scored if texts is None else pd.concat([scored, texts.set_axis(scored.index)], axis=1)


def sales_view(scored: pd.DataFrame, roles: ColumnRoles) -> pd.DataFrame:
    """What sales gets: id, score, tier, junk flag, the reasons (where there are) and the model
    version, best leads first: columns a CRM imports as they are."""
    why = [c for c in scored.columns if c.startswith(("raises_", "lowers_"))]
    columns = [roles.id_column, "lead_score", "tier", "is_junk", *why, "model_version"]
    return scored.sort_values(["lead_score", roles.id_column], ascending=[False, True])[columns]

"""Batch scoring: the sales model (the champion, or the pipeline's own) scores a batch of leads.

The batch goes through the same cleaning and row accounting as the training export (`prepare`):
exact duplicates are dropped and rows that break the contract quarantined with a reason, so every
incoming lead is accounted for. The sales model (`leads.sales.SalesScorer`) then answers for the
clean rows exactly as `make serve` answers for one lead: the pipeline normalises and featurizes the
records as in training (unseen categories fall into the collapsed `others` level), and the tiers
are the ones chosen for that model.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor

import pandas as pd

from leadsift.core import model_store
from leadsift.core.contract import Cleaned
from leadsift.core.io import InputError
from leadsift.leads.cleaning import normalized_rows, numbered, separate_rows
from leadsift.leads.models import TRUSTED_TYPES
from leadsift.leads.sales import SalesScorer
from leadsift.leads.schema import ColumnRoles

REGISTRY_PREFIX = "models:/"


def load_scoring_model(source: str) -> tuple[SalesScorer, str]:
    """Load the sales model to score with, and a label saying which model version it is.

    `source` is a model directory saved by `package` (the default, `models/sales`) or a registry
    URI such as `models:/leadsift-junk-lead@champion`; nothing else is loaded (a model is code).
    """
    if not source.startswith(REGISTRY_PREFIX):
        label = f"{source}@{model_store.model_uuid(source)[:12]}"
    else:
        from leadsift.core.tracking import alias_version  # noqa: PLC0415 - registry scoring only

        name, version = alias_version(source, "`leads_score.model` in config.yaml")
        label = f"{name} v{version}"
    model = model_store.load_model(source, TRUSTED_TYPES)
    if not isinstance(model, SalesScorer):
        raise InputError(
            f"`leads_score.model` in config.yaml: {source} is a bare {type(model).__name__}, not "
            "a sales model with its tiers; point it at models/sales (written by leads_package) or "
            "at a version registered from it"
        )
    return model, label


def clean_and_score(
    model: SalesScorer,
    raw: pd.DataFrame,
    roles: ColumnRoles,
    *,
    missing_values: Sequence[str],
    aliases: Mapping[str, Mapping[str, str]],
    source: str,
    model_version: str,
    with_reasons: bool = True,
) -> tuple[Cleaned, pd.DataFrame]:
    """`clean_leads` of a raw batch, and its clean rows with the sales answer of each lead
    (probability, 0-100 score, tier, junk flag and, where the model family has exact
    contributions, `raises_1..3` and `lowers_1..3`) and the model version.

    Cleaning and scoring run at once. The model answers every normalised row (the clean columns
    as they are, parsed times and numbers, which it takes as it takes raw text) while a second
    thread looks for duplicates and checks the contract: pandas work, which runs while the trees
    predict without Python's lock. The answers of the rows dropped are then dropped. Each lead is
    answered on its own (`SalesScorer.answer`), so a clean row's answer is the one it gets scored
    alone. A batch that cannot be cleaned (every row quarantined) fails with cleaning's error.
    """
    raw = numbered(raw, roles)
    rows = normalized_rows(raw, roles, missing_values=missing_values, aliases=aliases)
    with ThreadPoolExecutor(1) as pool:
        checking = pool.submit(separate_rows, raw, rows, roles, source=source)
        try:
            answer = model.answer(rows[roles.model_inputs], with_reasons=with_reasons)
        finally:
            cleaned, kept = checking.result()  # its error first: the rows, not the model
    clean = cleaned.clean
    scored = pd.concat([clean, answer.take(kept).set_axis(clean.index)], axis=1)
    return cleaned, scored.assign(model_version=model_version)


def sales_view(scored: pd.DataFrame, roles: ColumnRoles) -> pd.DataFrame:
    """What sales gets: id, score, tier, junk flag, the reasons (where there are) and the model
    version, best leads first: columns a CRM imports as they are."""
    why = [c for c in scored.columns if c.startswith(("raises_", "lowers_"))]
    columns = [roles.id_column, "lead_score", "tier", "is_junk", *why, "model_version"]
    return scored.sort_values(["lead_score", roles.id_column], ascending=[False, True])[columns]

"""The lead pipeline's parameters: the rule each key of params.yaml and config.yaml must meet.

`core.config.load_params(RULES)` checks them all before a lead stage does any work. Two parts are
checked where they are read, still before any work: the column roles under `leads:`
(`ColumnRoles.from_params`) and the search spaces under `tune.spaces`, which need the model's own
parameter list.
"""

from __future__ import annotations

from typing import Any

from leadsift.core.config import (
    ISO_DATE,
    SHARE,
    TEXT,
    Rule,
    between,
    integer,
    one_of,
    or_null,
)

SPLITS = ("train", "validation", "test")
SPLIT_METHODS = ("time", "stratified")
# The names the model families answer to; `models.FAMILIES` builds them (a test checks they agree).
FAMILIES = ("hist_gradient_boosting", "lightgbm", "logistic_regression", "random_forest")
TUNE_METRICS = ("roc_auc", "pr_auc")
PRUNERS = ("median", "successive_halving", "none")


def _fractions(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and set(value) == set(SPLITS)
        and all(isinstance(v, int | float) and 0 < v < 1 for v in value.values())
        and abs(sum(value.values()) - 1.0) <= 1e-9
    )


def _tier_names(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and set(value) == {"hot", "warm", "cold"}
        and all(isinstance(v, str) and v.strip() for v in value.values())
        and len(set(value.values())) == 3
    )


RULES: dict[str, Rule] = {
    "leads.raw_path": TEXT,
    "generate.world_seed": integer(0),
    "generate.sample_seed": integer(0),
    "generate.n_leads": integer(1),
    "generate.start": ISO_DATE,
    "generate.days": integer(1),
    "generate.genuine_rate": between(0, 1, closed="neither"),
    "generate.dirt.missing_source": SHARE,
    "generate.dirt.city_variants": SHARE,
    "generate.dirt.duplicate_rows": SHARE,
    "generate.dirt.negative_counts": SHARE,
    "generate.dirt.placeholders": SHARE,
    "incoming.sample_seed": integer(0),
    "incoming.n_batches": integer(1),
    "incoming.leads_per_batch": integer(1),
    "incoming.drift.new_sources": SHARE,
    "incoming.drift.platform_shift": SHARE,
    "incoming.drift.count_inflation": between(0, 100),
    "incoming.drift.genuine_rate_shift": between(-1, 1, closed="neither"),
    "split.method": one_of(SPLIT_METHODS),
    "split.fractions": (_fractions, "{train, validation, test}, each in (0, 1), summing to 1"),
    "split.seed": integer(0),
    "train.coverage": between(0, 1, closed="right"),
    "train.max_levels": integer(1),
    "model.family": one_of(FAMILIES),
    "model.seed": integer(0),
    "tune.n_trials": integer(1),
    "tune.metric": one_of(TUNE_METRICS),
    "tune.max_rows": or_null(integer(1)),
    "tune.step": integer(1),
    "tune.pruner": one_of(PRUNERS),
    "tune.timeout": or_null(between(0, float("inf"), closed="neither")),
    "tune.seed": integer(0),
    "register.min_roc_auc": SHARE,
    "register.min_improvement": between(-1, 1),
    "register.confidence": between(0, 1, closed="neither"),
    "register.n_bootstrap": integer(1),
    "register.seed": integer(0),
    "score.input": TEXT,
    "score.model": TEXT,
    "business.min_genuine_recall": between(0, 1, closed="right"),
    "business.hot_genuine_rate": between(0, 1, closed="right"),
    "business.tiers": (
        _tier_names,
        "{hot, warm, cold}, each a different non-empty name",
    ),
    "evaluate.curve_points": integer(2),
    "evaluate.calibration_bins": integer(1),
    "evaluate.importance_rows": integer(1),
    "evaluate.importance_repeats": integer(1),
    "evaluate.importance_top": integer(1),
    "evaluate.seed": integer(0),
    "monitor.labels": TEXT,
    "monitor.bins": integer(2),
    "monitor.psi_alert": between(0, float("inf"), closed="neither"),
    "monitor.p_value": between(0, 1, closed="neither"),
    "monitor.unseen_alert": SHARE,
    "monitor.auc_drop_alert": SHARE,
    "monitor.rate_gap_alert": SHARE,
}

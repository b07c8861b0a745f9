"""The lead pipeline's parameters: the rule each key of params.yaml and config.yaml must meet.

`core.config.load_params(RULES)` checks them all before a lead stage does any work, and names any
key of these sections that no rule reads. Two parts are checked further where they are read, still
before any work: the column roles under `leads:` hang together (`ColumnRoles.from_params`), and
the search spaces under `tune_setup.spaces` name the model's own parameters.
"""

from __future__ import annotations

from typing import Any

from leadsift.core.config import (
    ANY_MAPPING,
    ISO_DATE,
    SCALAR,
    SHARE,
    TEXT,
    TEXTS,
    Rule,
    between,
    integer,
    mapping_of,
    one_of,
    optional,
    or_null,
)

SPLITS = ("train", "validation", "test")
SPLIT_METHODS = ("time", "stratified")
# The names the model families answer to; `models.FAMILIES` builds them (a test checks they agree).
FAMILIES = ("hist_gradient_boosting", "lightgbm", "logistic_regression", "random_forest")
TUNE_METRICS = ("roc_auc", "pr_auc")
PRUNERS = ("median", "successive_halving", "none")
SAMPLERS = ("tpe", "random")  # `core.tuning.SAMPLERS` builds them (a test checks they agree)


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
    "leads.id": or_null(TEXT),
    "leads.timestamp": or_null(TEXT),
    "leads.target": TEXT,
    "leads.positive_label": SCALAR,
    "leads.negative_label": or_null(SCALAR),
    "leads.categorical": TEXTS,
    "leads.numeric": TEXTS,
    "leads.non_negative": optional(TEXTS),
    "leads.flags": optional(TEXTS),
    "leads.interaction_groups": optional(mapping_of(TEXTS)),
    "leads_prepare.missing_values": TEXTS,
    "leads_prepare.aliases": or_null(mapping_of(mapping_of(TEXT))),
    "generate_setup.world_seed": integer(0),
    "generate.sample_seed": integer(0),
    "generate.n_leads": integer(1),
    "generate_setup.start": ISO_DATE,
    "generate_setup.days": integer(1),
    "generate_setup.genuine_rate": between(0, 1, closed="neither"),
    "generate_setup.dirt.missing_source": SHARE,
    "generate_setup.dirt.city_variants": SHARE,
    "generate_setup.dirt.duplicate_rows": SHARE,
    "generate_setup.dirt.negative_counts": SHARE,
    "generate_setup.dirt.placeholders": SHARE,
    "incoming_setup.sample_seed": integer(0),
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
    "train_setup.max_levels": integer(1),
    "model.family": one_of(FAMILIES),
    "model_setup.seed": integer(0),
    **{f"model_setup.{family}": optional(or_null(ANY_MAPPING)) for family in FAMILIES},
    "tune_setup.spaces": mapping_of(or_null(ANY_MAPPING)),
    "tune.n_trials": integer(1),
    "tune.metric": one_of(TUNE_METRICS),
    "tune.max_rows": or_null(integer(1)),
    "tune_setup.step": integer(1),
    "tune.pruner": one_of(PRUNERS),
    "tune_setup.timeout": or_null(between(0, float("inf"), closed="neither")),
    "tune_setup.sampler": one_of(SAMPLERS),
    "tune.seed": integer(0),
    "leads_register.min_roc_auc": SHARE,
    "leads_register.min_improvement": between(-1, 1),
    "leads_register.confidence": between(0, 1, closed="neither"),
    "leads_register.n_bootstrap": integer(1),
    "leads_register.seed": integer(0),
    "leads_score.input": TEXT,
    "leads_score.model": TEXT,
    "leads_score.reasons": (lambda v: isinstance(v, bool), "true or false"),
    "business.min_genuine_recall": between(0, 1, closed="right"),
    "business.hot_genuine_rate": between(0, 1, closed="right"),
    "business_setup.tiers": (
        _tier_names,
        "{hot, warm, cold}, each a different non-empty name",
    ),
    "leads_evaluate.curve_points": integer(2),
    "leads_evaluate.calibration_bins": integer(1),
    "leads_evaluate.importance_rows": integer(1),
    "leads_evaluate.importance_repeats": integer(1),
    "leads_evaluate.importance_top": integer(1),
    "leads_evaluate.seed": integer(0),
    "leads_monitor.labels": TEXT,
    "leads_monitor.bins": integer(2),
    "leads_monitor.psi_alert": between(0, float("inf"), closed="neither"),
    "leads_monitor.p_value": between(0, 1, closed="neither"),
    "leads_monitor.unseen_alert": SHARE,
    "leads_monitor.auc_drop_alert": SHARE,
    "leads_monitor.rate_gap_alert": SHARE,
}

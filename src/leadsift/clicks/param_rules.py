"""The clicks pipeline's parameters: the rule each key of params.yaml and config.yaml must meet.

`core.config.load_params(RULES)` checks them all before a clicks stage does any work, and names any
key of these sections that no rule reads. The column roles under `clicks:` hang together
(`ClickRoles.from_params`), and the search space names LightGBM's own parameters
(`core.tuning.parse_space`), both checked where they are read, still before any work.
"""

from __future__ import annotations

from leadsift.core.config import (
    ANY_MAPPING,
    ISO_DATE,
    SHARE,
    TEXT,
    Rule,
    between,
    integer,
    one_of,
    or_null,
)

METRICS = ("log_loss", "roc_auc")
ENGINES = ("duckdb", "spark")  # clicks_engine.engine: where the feature and scoring stages run
ROLES = ("ip", "app", "device", "os", "channel", "click_time")
OPTIONAL_ROLES = ("click_id", "attributed_time", "is_attributed", "time_format")

RULES: dict[str, Rule] = {
    "clicks.raw_path": TEXT,
    "clicks.incoming": TEXT,
    **{f"clicks.{role}": TEXT for role in ROLES},
    **{f"clicks.{role}": or_null(TEXT) for role in OPTIONAL_ROLES},
    "clicks_engine.engine": one_of(ENGINES),
    "clicks_engine.memory_limit": TEXT,
    "clicks_engine.temp_directory": TEXT,
    "clicks_engine.threads": integer(1),
    "clicks_engine.spark_master": TEXT,
    "clicks_engine.spark_memory": TEXT,
    "clicks_engine.spark_partitions": integer(1),
    "generate_clicks.n_clicks": integer(1000),
    "generate_clicks.sample_seed": integer(0),
    "generate_clicks_setup.world_seed": integer(0),
    "generate_clicks_setup.start": ISO_DATE,
    "generate_clicks_setup.days": integer(1),
    "generate_clicks_setup.incoming_days": integer(0),
    "clicks_split.warmup_days": integer(0),
    "clicks_split.validation_days": integer(1),
    "clicks_split.test_days": integer(1),
    "clicks_sampling.negative_rate": between(0, 1, closed="right"),
    "clicks_sampling.n_bags": integer(1),
    "clicks_tune.n_trials": integer(1),
    "clicks_tune.metric": one_of(METRICS),
    "clicks_tune.seed": integer(0),
    "clicks_tune_setup.fixed": ANY_MAPPING,
    "clicks_tune_setup.space": ANY_MAPPING,
    "clicks_evaluate.keep_installs": between(0, 1, closed="neither"),
    "clicks_evaluate.cost_per_click": between(0, float("inf")),
    "clicks_evaluate.top_sources": integer(1),
    "clicks_evaluate.curve_points": integer(2),
    "clicks_evaluate.calibration_bins": integer(2),
    "clicks_register.min_roc_auc": SHARE,
    "clicks_register.min_improvement": between(-1, 1),
    "clicks_register.confidence": between(0, 1, closed="neither"),
    "clicks_register.n_bootstrap": integer(1),
    "clicks_register.negative_rate": between(0, 1, closed="right"),
    "clicks_register.seed": integer(0),
    "clicks_monitor.sample_rows": integer(100),
    "clicks_monitor.label_rate": between(0, 1, closed="right"),
    "clicks_monitor.bins": integer(2),
    "clicks_monitor.psi_alert": between(0, float("inf"), closed="neither"),
    "clicks_monitor.p_value": between(0, 1, closed="neither"),
}

"""The customers pipeline's parameters: the rule each key of params.yaml and config.yaml must meet.

`core.config.load_params(RULES)` checks them all before a customers stage does any work. The column
roles under `transactions:` are checked where they are read (`TransactionRoles.from_params`), the
search spaces under `segment_setup.spaces` by `customers_tune` before its first trial, and the
generator's segment table by `customers_generate`.
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
    iso_day,
    mapping_of,
    one_of,
    or_null,
)

# The names of the segmentation families; `segmentation.FAMILIES` builds them (a test checks).
FAMILIES = ("gaussian_mixture", "kmeans")
IDENTICAL_LINES = ("auto", "keep", "drop")  # what lines equal in every column are
# A marketplace's roles in `transactions:`, all optional (`schema.TransactionRoles`).
MARKET_ROLES = (
    "producer",
    "affiliate",
    "commission",
    "niche",
    "category",
    "product_created",
    "device",
    "origin",
    "social_origin",
)
SCALINGS = ("log", "quantile")
CAMPAIGN_KEYS = {"name", "start", "end", "new_customers", "order_value"}


def _campaign(entry: object) -> bool:
    """One planned campaign (`forecast.calendar.Campaign`): a name, its first and last day, and
    its expected new customers and their order value (each null or left out: not known; an
    order value only with a count)."""
    if not (isinstance(entry, dict) and {"name", "start", "end"} <= set(entry) <= CAMPAIGN_KEYS):
        return False
    start, end = iso_day(entry["start"]), iso_day(entry["end"])
    count, value = entry.get("new_customers"), entry.get("order_value")
    amount = between(0, float("inf"), closed="left")[0]
    return (
        TEXT[0](entry["name"])
        and start is not None
        and end is not None
        and start <= end
        and all(v is None or amount(v) for v in (count, value))
        and (value is None or count is not None)
    )


CAMPAIGNS = (
    lambda v: isinstance(v, list) and all(_campaign(e) for e in v),
    "a list (maybe empty) of campaigns {name, start, end}: days written YYYY-MM-DD, start on or "
    "before end; optionally new_customers and order_value (null: not known; a number >= 0; an "
    "order value only with new_customers); no other keys",
)
FEATURE_LIST = (
    lambda v: isinstance(v, list) and len(v) >= 2 and all(isinstance(f, str) for f in v),
    "a list of at least two feature names",
)
NAME_LIST = (
    lambda v: isinstance(v, list) and all(isinstance(f, str) for f in v),
    "a list of feature names (may be empty)",
)

# The forecast's candidate models; `forecast.models.CANDIDATES` implements them (a test checks).
FORECASTERS = (
    "naive",
    "seasonal_naive",
    "mean",
    "ets",
    "ets_seasonal",
    "arima",
    "sarima",
    "lag_regression",
    "lag_regression_seasonal",
    "weekly_ets",
    "customer_base",
)
FORECAST_MODELS = (
    lambda v: isinstance(v, list) and len(v) >= 1 and set(v) <= set(FORECASTERS),
    f"a non-empty list of: {', '.join(FORECASTERS)}",
)

RULES: dict[str, Rule] = {
    "transactions.raw_path": TEXT,
    "transactions.incoming": TEXT,
    "transactions.identical_lines": one_of(IDENTICAL_LINES),
    "transactions.value_standardised": (lambda v: isinstance(v, bool), "true or false"),
    **{f"transactions.{role}": TEXT for role in ("customer_id", "timestamp")},
    **{
        f"transactions.{role}": or_null(TEXT)
        for role in (
            "quantity",
            "timestamp_format",
            "unit_price",
            "amount",
            "invoice",
            "cancellation_prefix",
            "product",
            "description",
            "country",
            *MARKET_ROLES,
        )
    },
    "generate_transactions_setup.segments": mapping_of(ANY_MAPPING),
    "segment_setup.spaces": mapping_of(or_null(ANY_MAPPING)),
    "generate_transactions.n_customers": integer(50),
    "generate_transactions.sample_seed": integer(0),
    "generate_transactions_setup.world_seed": integer(0),
    "generate_transactions_setup.start": ISO_DATE,
    "generate_transactions_setup.months": integer(3),
    "generate_transactions_setup.future_months": integer(0),
    "generate_transactions_setup.recent_months": between(0, 24, closed="neither"),
    "generate_transactions_setup.mix_concentration": between(0, float("inf"), closed="neither"),
    "generate_transactions_setup.dirt.guest_share": between(0, 1, closed="left"),
    "generate_transactions_setup.dirt.duplicate_rows": SHARE,
    "generate_transactions_setup.dirt.zero_price": SHARE,
    "generate_transactions_setup.dirt.negative_price": SHARE,
    "generate_transactions_setup.dirt.description_variants": SHARE,
    "generate_transactions_setup.dirt.wholesale_orders": integer(0),
    "customers_drivers.as_of": or_null(ISO_DATE),
    "customers_drivers.outcome_months": integer(1),
    "customers_market.value_cvs": (
        lambda v: (
            isinstance(v, list)
            and bool(v)
            and all(isinstance(x, int | float) and not isinstance(x, bool) and x > 0 for x in v)
        ),
        "a non-empty list of numbers > 0",
    ),
    "customers_market.trend_alpha": between(0, 1, closed="neither"),
    "customers_drivers.folds": integer(2),
    "customers_drivers.placebo_draws": integer(2),
    "customers_drivers.level": between(0, 1, closed="neither"),
    "customers_drivers.seed": integer(0),
    "generate_transactions_setup.market.products_per_offer": integer(1),
    "generate_transactions_setup.market.producers": integer(1),
    "generate_transactions_setup.market.producer_spread": between(0, 5),
    "generate_transactions_setup.market.affiliates": integer(1),
    "generate_transactions_setup.market.commission_effect": between(-1, 1),
    "generate_transactions_setup.market.size_effect": between(-5, 5),
    "generate_transactions_setup.market.commission_per_size": between(-30, 30),
    "segment.family": one_of(FAMILIES),
    "segment.n_trials": integer(1),
    "segment_setup.as_of": or_null(ISO_DATE),
    "segment_setup.features": FEATURE_LIST,
    "segment_setup.scaling": one_of(SCALINGS),
    "segment_setup.min_share": between(0, 0.5, closed="left"),
    "segment_setup.sample_rows": integer(100),
    "segment_setup.n_init": integer(1),
    "segment_setup.stability_refits": integer(0),
    "segment_setup.seed": integer(0),
    "customers_register.min_silhouette": between(-1, 1),
    "customers_register.min_stability": SHARE,
    "customers_register.min_improvement": between(-1, 1),
    "customers_register.confidence": between(0, 1, closed="neither"),
    "customers_register.n_bootstrap": integer(1),
    "customers_register.seed": integer(0),
    "forecast.horizon": integer(1),
    "forecast.metric": one_of(("mase", "mae", "smape")),
    "forecast_setup.min_periods": integer(3),
    "forecast_setup.origins": integer(1),
    "forecast_setup.min_interval_errors": integer(2),
    "forecast_setup.level": between(0, 1, closed="neither"),
    "forecast_setup.fit_window": or_null(integer(6)),
    "forecast_setup.mean_window": integer(1),
    "forecast_setup.ridge_alpha": between(0, float("inf"), closed="neither"),
    "forecast_setup.value_bands": integer(1),
    "forecast_setup.band_customers": integer(1),
    "forecast_setup.newcomer_window": integer(1),
    "forecast_setup.n_jobs": integer(1),
    "forecast_setup.models": FORECAST_MODELS,
    "forecast_setup.campaigns": CAMPAIGNS,
    "customers_monitor.bins": integer(2),
    "customers_monitor.psi_alert": between(0, float("inf"), closed="neither"),
    "customers_monitor.p_value": between(0, 1, closed="neither"),
    "customers_monitor.calendar_features": NAME_LIST,
}

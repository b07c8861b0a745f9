"""The customers pipeline's part of the report (reports/report.md), its headline metrics and its
lines in the `make repro` summary."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from leadsift.core.report import data_profile_lines, promotion_lines, table, verdict
from leadsift.customers.forecast.backtest import compared_errors, describe, interval_text
from leadsift.customers.forecast.series import TOTAL
from leadsift.customers.forecast.truth import truth_variants
from leadsift.customers.market_report import render_market

FIGURES = (
    ("Segmentation study", "customers/tuning/silhouette.png"),
    ("Segment profiles", "customers/figures/profiles.png"),
    ("Customers and revenue by segment", "customers/figures/revenue.png"),
    ("Customers by segment", "customers/figures/projection.png"),
    ("Revenue concentration", "customers/figures/lorenz.png"),
    ("Drift of later months", "customers/monitor/drift.png"),
    ("Revenue forecast", "customers/forecast/forecast.png"),
)


def headline_metrics(
    segments: Mapping[str, Any],
    tuning: Mapping[str, Any],
    forecast: Mapping[str, Any],
    profile: Mapping[str, Any] | None = None,
    *,
    drivers: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The customers' numbers in reports/metrics.json: how many segments, how well separated,
    how close to the best recovery of the truth (when there is one), how concentrated revenue is;
    the forecast's chosen model, its backtest error and next months' total with its interval; the
    commission's estimated effect."""
    truth = segments["truth"] or {}
    total = forecast["series"][TOTAL]
    headline = {
        "segments": len(segments["segments"]),
        "silhouette": tuning["best_value"],
        "ari_share": truth.get("ari_share_of_ceiling"),
        "top20_share": segments["concentration"]["top_20pct"],
        "forecast_model": total["model"],
        "forecast_mase": compared_errors(total["models"][total["model"]])["mase"],
        "forecast_next": round(total["next"]["total"]),
        "forecast_low": _rounded(total["next"]["lower"]),
        "forecast_high": _rounded(total["next"]["upper"]),
    }
    if profile is not None:
        headline["transactions_warnings"] = len(profile["warnings"])
    if drivers and drivers["commission"]:
        headline["commission_effect"] = drivers["commission"]["effect"]["estimate"]
    return {
        k: round(v, 4) if isinstance(v, float) else v for k, v in headline.items() if v is not None
    }


def _segment_rows(segments: Mapping[str, Any]) -> list[list[str]]:
    return [
        [
            number,
            entry["name"],
            f"{int(entry['customers']):,} ({entry['customer_share']:.0%})",
            f"{entry['revenue_share']:.0%}",
            f"{entry['recency_days']:.0f}",
            f"{entry['frequency']:.0f}",
            f"{entry['monetary']:,.0f}",
            f"{entry['avg_order_value']:,.0f}",
        ]
        for number, entry in segments["segments"].items()
    ]


def render_section(
    segments: Mapping[str, Any],
    *,
    data: Mapping[str, Any],
    features: Mapping[str, Any],
    tuning: Mapping[str, Any],
    train: Mapping[str, Any],
    promotion: Mapping[str, Any] | None = None,
    drift: Mapping[str, Any] | None = None,
    forecast: Mapping[str, Any] | None = None,
    profile: Mapping[str, Any] | None = None,
    market: Mapping[str, Any] | None = None,
    drivers: Mapping[str, Any] | None = None,
    min_stability: float,
) -> str:
    """The customers section of the report, as Markdown."""
    truth, shares = segments["truth"], segments["concentration"]
    settings = ", ".join(f"{k} {v}" for k, v in sorted(train["settings"].items()))
    parts = ["# Customers: segments and revenue", ""]
    headline = (
        f"**{len(segments['segments'])} segments** of {features['customers']:,} customers as of "
        f"{features['as_of']} ({train['family']}: {settings}; silhouette "
        f"{tuning['best_value']:.3f})"
    )
    if truth:
        headline += (
            f"; adjusted Rand index **{truth['ari']:.3f}** against the true segments, "
            f"{truth['ari_share_of_ceiling']:.0%} of the best possible ({truth['ari_ceiling']:.3f})"
        )
    parts += [headline + ".", ""]
    header = [
        "#",
        "segment",
        "customers",
        "revenue",
        "recency (days)",
        "orders",
        "spend",
        "per order",
    ]
    parts += [table(header, _segment_rows(segments)), ""]
    parts += [
        f"The top 1% of customers bring **{shares['top_1pct']:.0%}** of revenue, the top 5% "
        f"**{shares['top_5pct']:.0%}**, the top 20% **{shares['top_20pct']:.0%}** (Gini "
        f"{shares['gini']:.2f}).",
        "",
    ]
    if line := stability_line(train.get("stability"), min_stability):
        parts += [line, ""]
    if promotion:
        parts += promotion_lines(promotion, f"Promotion of `{promotion['model_name']}`")
    if drift:
        months = ", ".join(drift["months"]) or "none yet"
        if drift["resegment_recommended"]:
            parts += [f"**New segmentation recommended** after months {months}:", ""]
            parts += [f"- {reason}" for reason in drift["reasons"]] + [""]
        else:
            parts += [f"No segment drift in months {months}.", ""]
        if calendar := drift["not_in_verdict"]["features"]:
            parts += [
                f"Measured but not in the verdict: {', '.join(calendar)} "
                f"({drift['not_in_verdict']['why']}; `customers_monitor.calendar_features`).",
                "",
            ]
    parts += [
        f"Data: {data['rows_in']:,} lines in: {data['rows_clean']:,} clean (of which "
        f"{data['rows_guest']:,} guest purchases, not segmented), {data['rows_duplicate']:,} exact "
        f"duplicates, {data['rows_quarantined']:,} quarantined; {data['identical_lines']}.",
        "",
    ]
    if profile:
        parts += data_profile_lines(profile, "profile/transactions.md")
    if forecast:
        parts += forecast_section(forecast)
    parts += [f"![{title}]({path})" for title, path in FIGURES] + [""]
    if market and drivers:
        parts += render_market(market, drivers)
    return "\n".join(parts) + "\n"


def stability_line(stability: Mapping[str, Any] | None, floor: float) -> str | None:
    """Whether the segments hold, in a sentence: the bootstrap refits' agreement with them, and
    whether its mean reaches `floor` (`customers_register.min_stability`)."""
    if not stability:
        return None
    agreement = (
        f"refitted on {stability['refits']} bootstrap samples, the segments agree with the "
        f"model's at an adjusted Rand index of {stability['mean_ari']:.3f} on average (lowest "
        f"{stability['min_ari']:.3f})"
    )
    if stability["mean_ari"] >= floor:
        return f"{agreement[0].upper()}{agreement[1:]}, above the floor {floor}."
    return (
        f"**These segments are not stable**: {agreement}, below the floor "
        f"{floor} (`customers_register.min_stability`). Read them as a rough split, not as "
        "groups that hold; the gate does not promote them."
    )


def _rounded(value: float | None) -> int | None:
    return None if value is None else round(value)


def _number(value: float | None, form: str) -> str:
    return "-" if value is None else format(value, form)


# What the truth and its further columns (`forecast.truth.truth_summary`) know, as the report
# says it, without and with the planned campaigns' calendar (`forecast_setup.campaigns`).
TRUTH_MEANING = {
    False: "knows the planned campaign too: not a ceiling",
    True: "knows the generator's campaign, as the calendar states it: the forecast to judge by",
}
VARIANT_MEANING = {
    False: {
        "from_history": "the same information as ours (learning of the campaign when it "
        "begins): the forecast to judge by"
    },
    True: {"from_history": "learns of the campaign only when it begins, without the calendar"},
}


def forecast_section(forecast: Mapping[str, Any]) -> list[str]:
    """The forecast's lines of the report: the choice, every model's backtest against the naive
    baseline and the truth, each segment's forecast, and the notes (skipped or failed models)."""
    total = forecast["series"][TOTAL]
    ahead, errors = describe(total)
    parts = [
        "## Revenue forecast",
        "",
        f"From {forecast['months']} months, **{ahead}**; {errors}.",
        "",
    ]
    if planned := forecast.get("campaigns"):
        parts += [
            f"The total knows the planned campaigns of `forecast_setup.campaigns` "
            f"({', '.join(planned)}); the segments' forecasts do not, as which segments their "
            "customers join is not known.",
            "",
        ]
    rows = []
    for name, entry in total["models"].items():
        if entry["status"] != "ok":
            rows.append([name, "-", "-", "-", "-", f"{entry['status']}: {entry['why']}"])
            continue
        wins, ranked = entry.get("beats_naive"), compared_errors(entry)
        rows.append(
            [
                f"**{name}**" if name == total["model"] else name,
                f"{ranked['mae']:,.0f}",
                _number(ranked["smape"], ".1f"),
                f"{ranked['mase']:.3f}",
                _number(entry["coverage"], ".0%"),
                "baseline" if wins is None else ("beats naive" if wins else "loses to naive"),
            ]
        )
    if total["truth"]:
        truth, calendar = total["truth"], bool(forecast.get("campaigns"))
        variants = [("expected revenue (truth)", truth, TRUTH_MEANING[calendar])]
        variants += [
            (f"the same, {name.replace('_', ' ')}", errors, VARIANT_MEANING[calendar].get(name, ""))
            for name, errors in truth_variants(truth).items()
        ]
        rows += [
            [name, f"{e['mae']:,.0f}", f"{e['smape']:.1f}", f"{e['mase']:.3f}", "-", what]
            for name, e, what in variants
        ]
    header = ["model", "MAE", "sMAPE %", "MASE", "interval coverage", "against naive"]
    parts += [table(header, rows), ""]
    segments = [
        [
            name,
            entry["model"],
            f"{entry['next']['total']:,.0f}",
            interval_text(entry["next"]),
            f"{compared_errors(entry['models'][entry['model']])['mase']:.3f}",
        ]
        for name, entry in forecast["series"].items()
        if name != TOTAL
    ]
    header = ["series", "model", "next months", "interval", "backtest MASE"]
    parts += [table(header, segments), ""]
    parts += [f"- {note}" for note in total["notes"]] + ([""] if total["notes"] else [])
    return parts


def summary_lines(
    segments: Mapping[str, Any],
    features: Mapping[str, Any],
    drift: Mapping[str, Any] | None,
    promotion: Mapping[str, Any] | None,
    forecast: Mapping[str, Any] | None = None,
    *,
    stability: Mapping[str, Any] | None = None,
    min_stability: float,
) -> list[str]:
    """The customers' lines of the `make repro` summary."""
    truth, shares = segments["truth"], segments["concentration"]
    names = ", ".join(entry["name"] for entry in segments["segments"].values())
    lines = [
        f"Customer segments: {len(segments['segments'])} of {features['customers']:,} customers "
        f"as of {features['as_of']}",
        f"  {names}",
    ]
    if truth:
        lines.append(
            f"  adjusted Rand index {truth['ari']:.3f} = {truth['ari_share_of_ceiling']:.0%} of "
            f"the best possible {truth['ari_ceiling']:.3f}"
        )
    if stability and stability["mean_ari"] < min_stability:
        lines.append(
            f"  NOT STABLE: bootstrap refits agree at an adjusted Rand index of "
            f"{stability['mean_ari']:.2f} (lowest {stability['min_ari']:.2f}), below the floor "
            f"{min_stability}: a rough split, not groups that hold"
        )
    lines.append(f"  the top 20% of customers bring {shares['top_20pct']:.0%} of revenue")
    if promotion:
        lines.append(f"  promotion: {verdict(promotion)}")
    if drift:
        state = "no alert"
        if drift["resegment_recommended"]:
            state = f"{len(drift['reasons'])} alert(s), re-segment advised"
        lines.append(f"  segment drift: {state} in {len(drift['months'])} later month(s)")
    if forecast:
        ahead, errors = describe(forecast["series"][TOTAL])
        lines += [f"Revenue forecast, {ahead}", f"  {errors}"]
    return lines

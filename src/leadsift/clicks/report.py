"""The clicks pipeline's part of the report (reports/report.md), its headline metrics and its
lines in the `make repro` summary."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from leadsift.core.report import data_profile_lines, promotion_lines, table, verdict

FIGURES = (
    ("ROC curve, test day", "clicks/figures/roc.png"),
    ("Calibration, test day", "clicks/figures/calibration.png"),
    ("Installs per channel, test day", "clicks/figures/channels.png"),
    ("Drift of later days", "clicks/monitor/drift.png"),
)


def headline_metrics(
    evaluation: Mapping[str, Any], profile: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The clicks' numbers in reports/metrics.json: test-day ROC-AUC, and against the ceiling
    (where there is one) its share and the log loss's ratio; predicted installs over observed;
    the share of clicks flagged as worth least."""
    ratios = evaluation.get("ratios") or {}
    headline = {
        "clicks_roc_auc": evaluation["model"]["roc_auc"],
        "clicks_ceiling_share": ratios.get("roc_auc"),
        "clicks_log_loss_ratio": ratios.get("log_loss"),
        "clicks_installs_ratio": evaluation["installs_ratio"],
        "clicks_flagged": evaluation["flagged"]["clicks_flagged"],
    }
    if profile is not None:
        headline["clicks_warnings"] = len(profile["warnings"])
    return {
        k: round(v, 4) if isinstance(v, float) else v for k, v in headline.items() if v is not None
    }


def _quality_rows(evaluation: Mapping[str, Any]) -> list[list[str]]:
    model, ceiling = evaluation["model"], evaluation.get("ceiling")
    rows = []
    for key, label, form in (
        ("roc_auc", "ROC-AUC", ".4f"),
        ("pr_auc", "PR-AUC", ".4f"),
        ("log_loss", "log loss", ".5f"),
        ("predicted_installs", "installs predicted", ",.0f"),
    ):
        row = [label, format(model[key], form)]
        rows.append([*row, format(ceiling[key], form)] if ceiling else row)
    return rows


def _flag_lines(evaluation: Mapping[str, Any]) -> list[str]:
    flagged = evaluation["flagged"]
    return [
        f"Flagging the clicks scored below {flagged['threshold']:.2g} (worth least) keeps "
        f"**{flagged['installs_kept']:.1%}** of the test day's installs and flags "
        f"**{flagged['clicks_flagged']:.0%}** of its clicks: {flagged['spend_flagged']:,.0f} of "
        f"{flagged['spend']:,.0f} spent on clicks.",
        "",
    ]


def _suspect_lines(evaluation: Mapping[str, Any]) -> list[str]:
    suspects = evaluation["suspect_channels"]
    if not suspects:
        return []
    rows = [
        [str(s["channel"]), f"{s['clicks']:,}", f"{s['predicted']:.1f}", str(s["installs"])]
        for s in suspects
    ]
    header = ["channel", "clicks", "installs predicted", "installs observed"]
    return [
        "Channels with the most clicks and almost no predicted installs (under a tenth of the "
        "day's rate: click farms, fraud):",
        "",
        table(header, rows),
        "",
    ]


def render_section(
    evaluation: Mapping[str, Any],
    *,
    data: Mapping[str, Any],
    tuning: Mapping[str, Any],
    train: Mapping[str, Any],
    leak: Mapping[str, Any] | None = None,
    promotion: Mapping[str, Any] | None = None,
    drift: Mapping[str, Any] | None = None,
    profile: Mapping[str, Any] | None = None,
) -> str:
    """The clicks section of the report, as Markdown."""
    days = tuning["days"]
    parts = ["# Clicks: attribution", ""]
    head = (
        f"The click model ({train['n_bags']} LightGBM bag(s), {train['negative_rate']:.0%} of the "
        f"unattributed clicks each) trained on {', '.join(train['days'])}, tested on "
        f"{', '.join(days['test'])}: {evaluation['clicks']:,} clicks, "
        f"{evaluation['attributed']:,} attributed."
    )
    parts += [head, ""]
    header = ["test day", "model", *(["ceiling (p_true)"] if "ceiling" in evaluation else [])]
    parts += [table(header, _quality_rows(evaluation)), ""]
    if "ratios" in evaluation:
        ratios = evaluation["ratios"]
        parts += [
            f"ROC-AUC **{ratios['roc_auc']:.1%}** of the ceiling, log loss "
            f"**{ratios['log_loss']:.3f}** times the ceiling's; installs predicted "
            f"{evaluation['installs_ratio']:.3f} times those observed.",
            "",
        ]
    parts += _flag_lines(evaluation) + _suspect_lines(evaluation)
    if leak:
        ceiling = (
            f", the ceiling {leak['ceiling_roc_auc']:.4f}" if "ceiling_roc_auc" in leak else ""
        )
        parts += [
            f"What looking ahead is worth: with the competition's future-looking features "
            f"({', '.join(leak['leaky_features'])}), test ROC-AUC **{leak['leaky_roc_auc']:.4f}** "
            f"against **{leak['point_in_time_roc_auc']:.4f}** at the click{ceiling}: a gap of "
            f"{leak['gap']:+.4f} that no model scoring a click when it happens can have.",
            "",
        ]
    parts += [
        f"Tuning: {tuning['n_trials']} trials, best validation {tuning['metric']} "
        f"{tuning['best_value']:.5f}.",
        "",
    ]
    if promotion:
        parts += promotion_lines(promotion, f"Promotion of `{promotion['model_name']}`")
    if drift:
        parts += _drift_lines(drift)
    log, incoming = data["log"], data.get("incoming", {})
    parts += [
        f"Data: {log['rows_in']:,} clicks in the log: {log['rows_clean']:,} clean, "
        f"{log['rows_quarantined']:,} quarantined; {incoming.get('rows_in', 0):,} clicks of later "
        f"days: {incoming.get('rows_clean', 0):,} clean, {incoming.get('rows_quarantined', 0):,} "
        "quarantined.",
        "",
    ]
    if profile:
        parts += data_profile_lines(profile, "profile/clicks.md")
    parts += [f"![{title}]({path})" for title, path in FIGURES]
    return "\n".join(parts) + "\n"


def _drift_lines(drift: Mapping[str, Any]) -> list[str]:
    days = ", ".join(drift["batches"]) or "none yet"
    parts = []
    if drift["retrain_recommended"]:
        parts += [f"**Retraining recommended** after days {days}:", ""]
        parts += [f"- {reason}" for reason in drift["reasons"]] + [""]
    else:
        parts += [f"No drift in the later days {days}.", ""]
    for day, entry in drift["batches"].items():
        if outcome := entry.get("labels"):
            parts += [
                f"{day}, once its labels arrived: {outcome['installs']:,} installs observed, "
                f"{outcome['predicted_installs']:,.0f} predicted; ROC-AUC "
                f"{outcome['roc_auc']:.4f}.",
                "",
            ]
    return parts


def summary_lines(
    evaluation: Mapping[str, Any],
    leak: Mapping[str, Any] | None,
    promotion: Mapping[str, Any] | None,
    drift: Mapping[str, Any] | None,
) -> list[str]:
    """The clicks' lines of the `make repro` summary."""
    model = evaluation["model"]
    lines = [f"Click attribution: {evaluation['clicks']:,} test-day clicks, "
             f"{evaluation['attributed']:,} attributed"]  # fmt: skip
    quality = f"  test ROC-AUC {model['roc_auc']:.4f}"
    if "ratios" in evaluation:
        quality += (
            f" = {evaluation['ratios']['roc_auc']:.1%} of the ceiling "
            f"{evaluation['ceiling']['roc_auc']:.4f}; log loss "
            f"{evaluation['ratios']['log_loss']:.3f} x the ceiling's"
        )
    lines.append(quality)
    flagged = evaluation["flagged"]
    lines.append(
        f"  installs predicted {model['predicted_installs']:,.0f}, observed "
        f"{evaluation['attributed']:,}; {flagged['clicks_flagged']:.0%} of clicks flagged keeping "
        f"{flagged['installs_kept']:.0%} of installs"
    )
    if leak:
        lines.append(
            f"  with future-looking features {leak['leaky_roc_auc']:.4f} (gap {leak['gap']:+.4f}): "
            "not served"
        )
    if promotion:
        lines.append(f"  promotion: {verdict(promotion)}")
    if drift:
        state = "no alert"
        if drift["retrain_recommended"]:
            state = f"{len(drift['reasons'])} alert(s), retraining advised"
        lines.append(f"  drift: {state} in {len(drift['batches'])} later day(s)")
    return lines

"""The lead model's part of the report (reports/report.md), its headline metrics and its lines in
the `make repro` summary."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from leadsift.core.report import data_profile_lines, promotion_lines, table, verdict

FIGURES = (
    ("ROC curve", "figures/roc.png"),
    ("Cumulative gains", "figures/gains.png"),
    ("Calibration", "figures/calibration.png"),
    ("Confusion at the business threshold", "figures/confusion.png"),
    ("Permutation importance", "figures/importance.png"),
    ("Mean |contribution| per raw input", "figures/contributions.png"),
    ("Tuning history", "tuning/history.png"),
    ("Drift of incoming batches", "monitor/drift.png"),
)


def _metric_rows(test: Mapping[str, Any], validation: Mapping[str, Any]) -> list[list[str]]:
    rows = []
    for key, label in (
        ("roc_auc", "ROC-AUC"),
        ("pr_auc", "PR-AUC"),
        ("log_loss", "log-loss"),
        ("brier", "Brier score"),
    ):
        bayes = test.get(f"bayes_{key}")
        prior = test.get("prior", {}).get(key)
        rows.append(
            [
                label,
                f"{test[key]:.4f}",
                f"{validation[key]:.4f}",
                f"{bayes:.4f}" if bayes is not None else "n/a",
                f"{prior:.4f}" if prior is not None else "n/a",
            ]
        )
    return rows


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _tier_lines(tiers: Mapping[str, Any], cold_below: float) -> list[str]:
    hot_from = tiers["hot_from"]
    rules = {
        "hot": "none: no top band reaches the target"
        if hot_from is None
        else f"score >= {hot_from:.3f}",
        "warm": "the other called leads",
        "cold": f"score < {cold_below:.3f} (junk)",
    }
    rows = [
        [
            tiers["test"][key]["name"],
            rules[key],
            _rate(tiers["test"][key]["share"]),
            _rate(tiers["test"][key]["genuine_rate"]),
            _rate(tiers["validation"][key]["genuine_rate"]),
        ]
        for key in ("hot", "warm", "cold")
    ]
    return [
        "## Tiers (test split)",
        "",
        f"Where sales starts: hot is the largest top band whose genuine rate reached "
        f"{tiers['hot_genuine_rate']:.0%} on validation; cold is below the business threshold.",
        "",
        table(["tier", "rule", "share of leads", "genuine rate", "on validation"], rows),
        "",
    ]


def _reason_lines(explained: Mapping[str, Any]) -> list[str]:
    parts = ["## Why leads score as they do (test split)", ""]
    if not explained["available"]:
        return [*parts, f"No per-lead reasons: {explained['why']}.", ""]
    parts += [
        "Each scored lead carries the inputs that raised and lowered its score most, with their "
        "exact contributions to the log-odds (base + contributions = the model's log-odds).",
        "",
    ]
    rows = [
        [
            label,
            example["id"],
            f"{example['probability']:.3f} ({example['tier']})",
            "<br>".join(example["raises"]) or "-",
            "<br>".join(example["lowers"]) or "-",
        ]
        for label in ("hot", "borderline", "junk")
        if (example := explained["examples"].get(label))
    ]
    parts += [table(["example", "lead", "probability (tier)", "raised by", "lowered by"], rows)]
    # evaluation.json keeps keys sorted by name: rank here
    overall = sorted(explained["mean_abs_contribution"].items(), key=lambda kv: (-kv[1], kv[0]))[:8]
    parts += [
        "",
        "How much each raw input moves scores, over all test leads (mean |contribution|, "
        "log-odds); permutation importance, its counterpart, is under Figures:",
        "",
        table(["raw input", "mean absolute contribution"], [[k, f"{v:.3f}"] for k, v in overall]),
        "",
    ]
    return parts


def headline_metrics(
    evaluation: Mapping[str, Any],
    drift: Mapping[str, Any] | None,
    profile: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """reports/metrics.json: the few numbers `dvc exp show` and `dvc metrics diff` compare, most
    important first (DVC keeps the leftmost columns when a terminal is too narrow)."""
    test, business = evaluation["test"], evaluation["business"]
    headline = {
        "roc_auc": test["roc_auc"],
        "bayes_share": test.get("roc_auc_share_of_bayes"),
        "pr_auc": test["pr_auc"],
        "junk_filtered": business["junk_filtered"],
        "hot_share": evaluation["tiers"]["test"]["hot"]["share"],
        "hot_genuine": evaluation["tiers"]["test"]["hot"]["genuine_rate"],
    }
    if drift is not None:
        headline["drift_alerts"] = len(drift["reasons"])
    if profile is not None:
        headline["leads_warnings"] = len(profile["warnings"])
    return {
        k: round(v, 4) if isinstance(v, float) else v for k, v in headline.items() if v is not None
    }


def render_report(
    evaluation: Mapping[str, Any],
    data: Mapping[str, Any],
    *,
    tuning: Mapping[str, Any] | None = None,
    promotion: Mapping[str, Any] | None = None,
    family: str | None = None,
    drift: Mapping[str, Any] | None = None,
    profile: Mapping[str, Any] | None = None,
) -> str:
    """The whole report as Markdown text."""
    test, validation = evaluation["test"], evaluation["validation"]
    business = evaluation["business"]
    parts = ["# leadsift model report", ""]
    share = test.get("roc_auc_share_of_bayes")
    headline = f"Test ROC-AUC **{test['roc_auc']:.4f}**"
    if share is not None:
        headline += f", {share:.1%} of the best possible ({test['bayes_roc_auc']:.4f})"
    parts += [headline + (f"; model family `{family}`." if family else "."), ""]

    parts += ["## Business view (test split)", ""]
    parts += [
        f"Calling only leads scoring at least **{business['threshold']:.3f}** "
        f"(chosen on validation to keep {business['min_genuine_recall']:.0%} of genuine leads), "
        f"sales calls {business['leads_called']:,} of {business['leads']:,} leads: "
        f"**{business['junk_filtered']:.1%} of junk leads are filtered out**, "
        f"{business['calls_saved']:.1%} of calls are saved, and {business['genuine_recall']:.1%} "
        f"of genuine leads are kept ({business['genuine_missed']:,} missed).",
        "",
    ]
    parts += _tier_lines(evaluation["tiers"], business["threshold"])
    parts += _reason_lines(evaluation["reasons"])
    parts += ["## Metrics", ""]
    parts += [
        table(
            ["metric", "test", "validation", "Bayes (test)", "no-skill (test)"],
            _metric_rows(test, validation),
        ),
        "",
    ]
    if promotion:
        parts += ["## Promotion", ""]
        parts += promotion_lines(promotion, f"`{promotion['model_name']}`")
    if tuning:
        parts += ["## Tuning", ""]
        parts += [
            f"Best validation {tuning['metric']} **{tuning['best_value']:.4f}** (trial "
            f"{tuning['best_trial']}) after {tuning['n_trials']} trials: {tuning['n_complete']} "
            f"completed, {tuning['n_pruned']} pruned.",
            "",
        ]
    if drift:
        batches = ", ".join(drift["batches"])
        parts += ["## Incoming batches", ""]
        if drift["retrain_recommended"]:
            parts += [f"**Retraining recommended** after batches {batches}:", ""]
            parts += [f"- {reason}" for reason in drift["reasons"]] + [""]
        else:
            parts += [f"No drift alert in batches {batches}.", ""]
    parts += ["## Data", ""]
    parts += [
        f"{data['rows_in']:,} rows in: {data['rows_clean']:,} clean, {data['rows_duplicate']:,} "
        f"exact duplicates, {data['rows_quarantined']:,} quarantined.",
        "",
    ]
    if profile:
        parts += data_profile_lines(profile, "profile/leads.md")
    parts += ["## Figures", ""]
    parts += [f"![{title}]({path})" for title, path in FIGURES]
    return "\n".join(parts) + "\n"


def render_summary(
    evaluation: Mapping[str, Any],
    data: Mapping[str, Any],
    *,
    promotion: Mapping[str, Any] | None,
    drift: Mapping[str, Any] | None,
    family: str,
) -> str:
    """What `make repro` prints at the end: the headline against the ceiling, the promotion
    verdict, the drift verdict and where to look next, in a dozen lines."""
    test, business = evaluation["test"], evaluation["business"]
    ceiling = (
        f" = {test['roc_auc_share_of_bayes']:.1%} of the Bayes ceiling {test['bayes_roc_auc']:.4f}"
        if "bayes_roc_auc" in test
        else ""
    )
    lines = [
        f"Junk-lead classifier: {family}, {data['rows_clean']:,} clean leads",
        f"  test ROC-AUC {test['roc_auc']:.4f}{ceiling}; PR-AUC {test['pr_auc']:.4f}",
        f"  at the business threshold {business['threshold']:.3f}: "
        f"{business['junk_filtered']:.1%} of junk filtered, "
        f"{business['genuine_recall']:.1%} of genuine leads kept",
        "  tiers: "
        + ", ".join(
            f"{tier['name']} {tier['share']:.1%} ({_rate(tier['genuine_rate'])} genuine)"
            for tier in (evaluation["tiers"]["test"][key] for key in ("hot", "warm", "cold"))
        ),
    ]
    if promotion:
        lines.append(f"  promotion: {verdict(promotion)}")
    if drift:
        batches = f"{len(drift['batches'])} incoming batch(es)"
        if drift["retrain_recommended"]:
            lines.append(f"  drift: {len(drift['reasons'])} alert(s) in {batches}, retrain advised")
            lines += [f"    - {reason}" for reason in drift["reasons"][:3]]
            if len(drift["reasons"]) > 3:
                lines.append(f"    ... and {len(drift['reasons']) - 3} more in reports/drift.json")
        else:
            lines.append(f"  drift: no alert in {batches}")
    lines += [
        "Report: reports/report.md (figures in reports/figures/)",
        "Next: `make compare` or `dvc exp show` for variants, `make serve` for the champion",
    ]
    return "\n".join(lines)

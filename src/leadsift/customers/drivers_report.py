"""What the sales model and the causal estimate found (`customers_drivers`' summary), in a few
lines for the stage's log, the report and `make repro`'s summary. Kept apart from the market's
report so that the drivers stage, the pipeline's costliest, depends on nothing of the market's."""

from __future__ import annotations


def summary_lines(summary: dict) -> list[str]:
    """The stage's findings in a few lines, for its log and the report."""
    if summary["note"]:
        return [f"no model of what makes a product sell: {summary['note']}"]
    lines = [
        f"{summary['products']} products; the model leans most on "
        f"{', '.join(summary['top_features'])}"
    ]
    commission = summary["commission"]
    if commission is None:
        return [*lines, "no `transactions.commission` role: no causal estimate"]
    e, n, p = commission["effect"], commission["naive"], commission["placebo"]
    placebo = (
        f"placebo {p['estimate']:+.4f} [{p['lower']:+.4f}, {p['upper']:+.4f}] over "
        f"{p['draws']} shuffles ({p['coverage']:.0%} of their intervals cover 0)"
    )
    lines.append(
        f"one commission point: {e['estimate']:+.4f} log units adjusted "
        f"[{e['lower']:+.4f}, {e['upper']:+.4f}], naive {n['estimate']:+.4f}; {placebo}"
    )
    if truth := commission.get("truth"):
        lines.append(
            f"true effect {truth['effect']:+.4f}: adjusted off by {truth['error_share']:.0%} "
            f"({'inside' if truth['covered'] else 'outside'} its interval), naive off by "
            f"{truth['naive_error_share']:.0%}"
        )
    return lines

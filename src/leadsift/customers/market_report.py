"""The marketplace's part of the customers report: dependence on the biggest sellers, what is
moving, and what makes a product sell."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from leadsift.customers.drivers_report import summary_lines
from leadsift.customers.market import AT_RISK, CASE_QUANTILE, SELLERS

FIGURES = (
    ("Concentration of units sold", "customers/market/lorenz.png"),
    ("Shares of units by niche, category, device and origin", "customers/market/trends.png"),
    ("What the sales model uses", "customers/drivers/contributions.png"),
    ("Partial dependence on the levers", "customers/drivers/dependence.png"),
    ("Effect of the commission", "customers/drivers/effect.png"),
)


def _share(value: float | list[float]) -> str:
    if isinstance(value, list):
        return f"{value[0]:.0%} to {value[1]:.0%}"
    return f"{value:.0%}"


def dependence_lines(market: Mapping[str, Any]) -> list[str]:
    """Top shares of producers, products and affiliates, the case's big producers and what the
    biggest producers' leaving would cost, on units and on revenue (a range with z-scored
    values, none if no stated de-standardisation is valid)."""
    dependence, cvs = market["dependence"], market["value_cvs"]
    revenue = "revenue" if cvs is None else "revenue_range"
    lines = []
    for seller in [s for s in SELLERS if s in dependence]:
        units, money = dependence[seller]["units"], dependence[seller].get(revenue)
        line = (
            f"- {units['count']:,} {seller}s: the top 1%, 5%, 20% sell "
            f"{units['top_1pct']:.0%}, {units['top_5pct']:.0%}, {units['top_20pct']:.0%} of units"
        )
        if money:
            line += (
                f" and {_share(money['top_1pct'])}, {_share(money['top_5pct'])}, "
                f"{_share(money['top_20pct'])} of revenue"
            )
        lines.append(f"{line} (Gini of units {units['gini']:.2f}, HHI {units['hhi']:.0f}).")
    if "producer" not in dependence:
        return [
            *lines,
            "No `transactions.producer` role: dependence on producers not measured.",
            "",
        ]
    case, risk = dependence["producer"]["case_definition"], dependence["producer"]["at_risk"]
    shares = [v for k, v in case.items() if k.startswith("revenue")]
    ranged = shares[0] if len(shares) == 1 else [min(shares), max(shares)]
    case_revenue = f" and {_share(ranged)} of revenue" if shares else ""
    lines.append(
        f"- The case's big producers (above the {100 * CASE_QUANTILE:.0f}th percentile of units, "
        f"{case['threshold_units']:,.0f}): **{case['producers']}**, with "
        f"{case['units_share']:.0%} of units{case_revenue}."
    )
    leaving = ", ".join(_share(risk["units"][f"top_{k}"]) for k in AT_RISK) + " of units"
    if revenue in risk:
        leaving += ", " + ", ".join(_share(risk[revenue][f"top_{k}"]) for k in AT_RISK)
        leaving += " of revenue"
    biggest = ", ".join(map(str, AT_RISK))
    lines.append(f"- If the biggest {biggest} producers left: {leaving}.")
    if cvs is not None:
        stated = ", ".join(f"{cv:g}" for cv in cvs) or "none valid"
        lines.append(
            f"- Values are z-scores: revenue shares are ranges over the values' coefficient of "
            f"variation {stated} (`customers_market.value_cvs`); units are exact."
        )
    return [*lines, ""]


def render_market(market: Mapping[str, Any], drivers: Mapping[str, Any]) -> list[str]:
    """The marketplace section, as Markdown lines."""
    parts = ["## The marketplace", "", *dependence_lines(market)]
    if movers := market["movers"]:
        parts += [
            "Moving most in each dimension (share of units, significant trends): "
            + "; ".join(
                f"{m['dimension']} **{m['value']}** {m['direction']} "
                f"({m['first_share']:.0%} to {m['last_share']:.0%})"
                for m in movers
            )
            + ".",
            "",
        ]
    parts += [f"What makes a product sell ({drivers['as_of']} to {drivers['outcome_end']}):", ""]
    parts += [f"- {line}" for line in summary_lines(drivers)] + [""]
    if drivers["note"]:
        return parts
    if drivers["commission"]:
        parts += [
            f"The adjusted effect is {drivers['commission']['method']}, adjusted for "
            f"{', '.join(drivers['commission']['adjusted_for'])}; the model's contributions "
            "describe what it uses, not what changing a feature would do.",
            "",
        ]
    return parts + [f"![{title}]({path})" for title, path in FIGURES] + [""]


def market_summary_lines(market: Mapping[str, Any], drivers: Mapping[str, Any]) -> list[str]:
    """The marketplace's lines of the `make repro` summary."""
    lines = ["Marketplace:"]
    if producer := market["dependence"].get("producer"):
        units = producer["units"]
        lines[0] += (
            f" the top 5% of {units['count']:,} producers sell {units['top_5pct']:.0%} of units "
            f"(Gini {units['gini']:.2f})"
        )
    if market["movers"]:
        moves = ", ".join(f"{m['value']} {m['direction']}" for m in market["movers"])
        lines.append(f"  moving most: {moves}")
    found = summary_lines(drivers)
    shown = found if drivers["note"] else found[1:]  # the effect's lines, or why there is none
    return lines + [f"  {line}" for line in shown]

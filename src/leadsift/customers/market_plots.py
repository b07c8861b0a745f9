"""The marketplace's figures: how concentrated sales are, which shares move, and what the model
and the causal estimate say about the commission."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from leadsift.core.plots import COLORS, STYLE, figure, plt

if TYPE_CHECKING:
    from leadsift.core.causal import Effect


def lorenz_figure(curves: Mapping[str, pd.DataFrame], ginis: Mapping[str, float]) -> Figure:
    """Lorenz curves of units per producer, product and affiliate against equality."""
    fig, ax = figure("How concentrated units sold are", "share of sellers (smallest first)",
                     "share of units")  # fmt: skip
    ax.plot([0, 1], [0, 1], color=COLORS["reference"], linestyle=":", label="all equal")
    for name, curve in curves.items():
        ax.plot(curve["customers"], curve["revenue"], label=f"{name}s (Gini {ginis[name]:.2f})")
    ax.legend(loc="upper left")
    return fig


def trends_figure(monthly: pd.DataFrame, trends: pd.DataFrame) -> Figure:
    """Each dimension's monthly shares of units, significant trends drawn solid."""
    dimensions = list(dict.fromkeys(monthly["dimension"]))
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(2, 2, figsize=(11.0, 7.5), sharex=True, squeeze=False)
    significant = set(zip(trends.loc[trends["significant"], "dimension"],
                          trends.loc[trends["significant"], "value"], strict=True))  # fmt: skip
    for ax, dimension in zip(axes.flat, dimensions, strict=False):
        rows = monthly[monthly["dimension"] == dimension]
        totals = rows.groupby("month")["units"].sum()
        for value, group in rows.groupby("value", sort=True):
            share = group.set_index("month")["units"].reindex(totals.index).fillna(0) / totals
            solid = (dimension, value) in significant
            ax.plot(share.index.to_timestamp(), share.to_numpy(), label=str(value),
                    linestyle="-" if solid else ":")  # fmt: skip
        ax.set_title(f"share of units by {dimension}")
        ax.legend(fontsize=7, loc="upper left")
    for ax in axes.flat[len(dimensions) :]:
        ax.set_visible(False)
    fig.autofmt_xdate()
    fig.tight_layout()
    return fig


def dependence_figure(curves: pd.DataFrame) -> Figure:
    """Partial dependence of predicted log units on each lever."""
    levers = list(dict.fromkeys(curves["feature"]))
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(1, len(levers), figsize=(5.0 * len(levers), 4.0), squeeze=False)
    for ax, lever in zip(axes[0], levers, strict=True):
        rows = curves[curves["feature"] == lever]
        ax.plot(rows["value"], rows["log1p_units"], color=COLORS["model"], marker=".")
        ax.set_xlabel(lever)
        ax.set_ylabel("predicted log(1 + units), others as they are")
        ax.set_title(f"partial dependence on {lever}")
    fig.tight_layout()
    return fig


def effect_figure(effects: Mapping[str, Effect], truth: float | None) -> Figure:
    """The adjusted estimate, the naive slope and the placebo with their intervals, and the
    generator's true effect where known."""
    fig, ax = figure("Effect of one commission point on log(1 + units)", "effect", "")
    names = list(effects)
    y = np.arange(len(names))[::-1]
    for row, name in zip(y, names, strict=True):
        e = effects[name]
        ax.errorbar(e.estimate, row, xerr=[[e.estimate - e.lower], [e.upper - e.estimate]],
                    fmt="o", color=COLORS["model"], capsize=4)  # fmt: skip
    ax.axvline(0.0, color=COLORS["reference"], linestyle=":")
    if truth is not None:
        ax.axvline(truth, color=COLORS["bayes"], linestyle="--", label="true effect (generator)")
        ax.legend(loc="lower right")
    ax.set_yticks(y, names)
    return fig

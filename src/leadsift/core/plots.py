"""Figures shared by both pipelines: one style, PNGs rendered offline and byte-identical from run to
run, and the charts both draw (importances, tuning history, drift heatmap)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from leadsift.core.io import atomic_path

STYLE = {
    "figure.figsize": (6.0, 4.5),
    "figure.dpi": 100,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "font.size": 10,
}
COLORS = {"model": "#1f5fa8", "bayes": "#d1495b", "reference": "#8d8d8d"}


def save_figure(fig: Figure, path: str | Path) -> None:
    """Save as PNG without the 'Software' stamp, so bytes only change when the picture does."""
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", metadata={"Software": None}, bbox_inches="tight")
    plt.close(fig)


def figure(title: str, xlabel: str, ylabel: str) -> tuple[Figure, plt.Axes]:
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots()
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    return fig, ax


def plot_curves(
    ax: plt.Axes,
    curves: Mapping[str, pd.DataFrame],
    x: str,
    y: str,
    *,
    summary: Mapping[str, float | None] | None = None,
    metric: str = "",
) -> None:
    """Draw the model's curve solid and the Bayes-optimal one (`bayes`) dashed, each labelled
    with its summary (e.g. its AUC)."""
    for name, table in curves.items():
        value = (summary or {}).get(name)
        label = name if value is None else f"{name} ({metric} {value:.3f})"
        linestyle = "--" if name == "bayes" else "-"
        ax.plot(table[x], table[y], color=COLORS[name], label=label, linestyle=linestyle)


def importance_figure(
    table: pd.DataFrame,
    top: int,
    title: str = "permutation importances, test split",
    xlabel: str = "drop in ROC-AUC when the column is shuffled",
) -> Figure:
    """Horizontal bars of importance (largest on top) with one standard deviation."""
    shown = table.head(top).iloc[::-1]
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(6.0, 0.3 * len(shown) + 1.2))
    ax.barh(shown["feature"], shown["importance"], xerr=shown["std"], color=COLORS["model"])
    ax.set_xlabel(xlabel)
    ax.set_title(f"Top {len(shown)} {title}")
    return fig


def tuning_history_figure(trials: pd.DataFrame, metric: str) -> Figure:
    """Each trial's validation score (pruned ones at their last report) and the best so far."""
    fig, ax = figure("Tuning history", "trial", f"validation {metric}")
    for state, marker, color in (
        ("complete", "o", COLORS["model"]),
        ("pruned", "x", COLORS["reference"]),
    ):
        shown = trials[trials["state"] == state]
        ax.scatter(
            shown["number"], shown["value"], marker=marker, color=color, label=state, zorder=3
        )
    ax.step(
        trials["number"],
        trials["best_value"],
        where="post",
        color=COLORS["bayes"],
        label="best so far",
    )
    ax.legend(loc="lower right")
    return fig


def drift_figure(
    table: pd.DataFrame, psi_alert: float, top: int, summary: str = "scores"
) -> Figure:
    """Heatmap of PSI by feature (rows: the `top` most drifted, then the `summary` row: the lead
    model's scores, the customers' segments) and batch (columns), from a long table with batch,
    feature, psi and alert columns; cells with an alert are boxed."""
    psi = table.pivot_table(index="feature", columns="batch", values="psi", aggfunc="max")
    alerted = table.pivot_table(index="feature", columns="batch", values="alert", aggfunc="max")
    order = psi.drop(index=summary).max(axis=1).sort_values(ascending=False, kind="stable")
    rows = [*order.index[:top], summary]
    shown, boxed = psi.loc[rows], alerted.loc[rows]
    with plt.rc_context({**STYLE, "axes.grid": False}):
        fig, ax = plt.subplots(figsize=(1.1 * len(shown.columns) + 3.4, 0.32 * len(rows) + 1.6))
    image = ax.imshow(shown.to_numpy(), cmap="Reds", vmin=0, vmax=2 * psi_alert, aspect="auto")
    for (i, j), value in np.ndenumerate(shown.to_numpy()):
        ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=8,
                color="white" if value > 1.2 * psi_alert else "black")  # fmt: skip
        if boxed.iloc[i, j]:
            ax.add_patch(plt.Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, lw=2, color="black"))
    ax.axhline(len(rows) - 1.5, color="black", lw=1)
    ax.set_xticks(range(len(shown.columns)), shown.columns)
    ax.set_yticks(range(len(rows)), rows)
    ax.set_xlabel("batch")
    ax.set_title(f"Drift against training (PSI; alert at {psi_alert:g}, boxed = alert)")
    fig.colorbar(image, ax=ax, label="PSI", shrink=0.8)
    return fig

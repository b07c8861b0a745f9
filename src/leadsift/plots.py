"""PNG figures of the evaluation tables, rendered offline and byte-identical from run to run."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from leadsift.io import atomic_path

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


def _figure(title: str, xlabel: str, ylabel: str) -> tuple[Figure, plt.Axes]:
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots()
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    return fig, ax


def _plot_curves(
    ax: plt.Axes,
    curves: Mapping[str, pd.DataFrame],
    x: str,
    y: str,
    *,
    summary: Mapping[str, float | None] | None = None,
    metric: str = "",
) -> None:
    """Draw the model's curve solid and the Bayes-optimal one dashed, labelled with a summary."""
    for name, table in curves.items():
        value = (summary or {}).get(name)
        label = name if value is None else f"{name} ({metric} {value:.3f})"
        linestyle = "--" if name == "bayes" else "-"
        ax.plot(table[x], table[y], color=COLORS[name], label=label, linestyle=linestyle)


def roc_figure(curves: Mapping[str, pd.DataFrame], aucs: Mapping[str, float]) -> Figure:
    """ROC curves of the model and, when known, the Bayes-optimal score."""
    fig, ax = _figure(
        "ROC curve, test split",
        "false positive rate (junk kept)",
        "true positive rate (genuine kept)",
    )
    _plot_curves(ax, curves, "fpr", "tpr", summary=aucs, metric="AUC")
    ax.plot([0, 1], [0, 1], color=COLORS["reference"], linestyle=":", label="random")
    ax.legend(loc="lower right")
    return fig


def pr_figure(
    curves: Mapping[str, pd.DataFrame], aps: Mapping[str, float], genuine_rate: float
) -> Figure:
    fig, ax = _figure("Precision-recall curve, test split", "recall (genuine kept)", "precision")
    _plot_curves(ax, curves, "recall", "precision", summary=aps, metric="AP")
    ax.axhline(genuine_rate, color=COLORS["reference"], linestyle=":", label="no skill")
    ax.set_ylim(0, 1.02)
    ax.legend(loc="lower left")
    return fig


def calibration_figure(table: pd.DataFrame) -> Figure:
    fig, ax = _figure(
        "Calibration, test split", "mean predicted probability", "observed genuine rate"
    )
    ax.plot([0, 1], [0, 1], color=COLORS["reference"], linestyle=":", label="perfect")
    ax.plot(
        table["mean_predicted"],
        table["observed_rate"],
        marker="o",
        color=COLORS["model"],
        label="model",
    )
    ax.legend(loc="upper left")
    return fig


def confusion_figure(confusion: Mapping[str, int], threshold: float) -> Figure:
    """2x2 matrix at the business threshold, with counts and the share of each actual class."""
    matrix = np.array([[confusion["tn"], confusion["fp"]], [confusion["fn"], confusion["tp"]]])
    shares = matrix / matrix.sum(axis=1, keepdims=True)
    with plt.rc_context({**STYLE, "axes.grid": False}):
        fig, ax = plt.subplots(figsize=(4.8, 4.2))
    ax.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    for (i, j), count in np.ndenumerate(matrix):
        ax.text(
            j,
            i,
            f"{count:,}\n{shares[i, j]:.1%}",
            ha="center",
            va="center",
            color="white" if shares[i, j] > 0.6 else "black",
        )
    ax.set_xticks([0, 1], ["junk", "genuine"])
    ax.set_yticks([0, 1], ["junk", "genuine"])
    ax.set_xlabel("predicted")
    ax.set_ylabel("actual")
    ax.set_title(f"Confusion at threshold {threshold:.3f}, test split")
    return fig


def gains_figure(
    curves: Mapping[str, pd.DataFrame], operating_point: tuple[float, float]
) -> Figure:
    """Cumulative gains: share of genuine leads reached when calling the top-scored leads first."""
    fig, ax = _figure(
        "Cumulative gains, test split",
        "share of leads called (highest score first)",
        "share of genuine leads reached",
    )
    _plot_curves(ax, curves, "contacted", "captured")
    ax.plot([0, 1], [0, 1], color=COLORS["reference"], linestyle=":", label="random")
    called, recall = operating_point
    ax.scatter(
        [called], [recall], color="black", zorder=3, label=f"business threshold: call {called:.0%}"
    )
    ax.legend(loc="lower right")
    return fig


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
    fig, ax = _figure("Tuning history", "trial", f"validation {metric}")
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


def evaluation_figures(
    summary: Mapping, tables: Mapping[str, pd.DataFrame], importance: pd.DataFrame, top: int
) -> dict[str, Figure]:
    """The six evaluation figures, by file stem; Bayes curves are drawn when their tables exist."""
    test, business = summary["test"], summary["business"]
    curves = [c for c in ("model", "bayes") if not tables[f"roc_{c}"].empty]
    aucs = {"model": test["roc_auc"], "bayes": test.get("bayes_roc_auc")}
    aps = {"model": test["pr_auc"], "bayes": test.get("bayes_pr_auc")}
    called = 1 - business["calls_saved"]
    return {
        "roc": roc_figure({c: tables[f"roc_{c}"] for c in curves}, aucs),
        "pr": pr_figure({c: tables[f"pr_{c}"] for c in curves}, aps, test["genuine_rate"]),
        "calibration": calibration_figure(tables["calibration"]),
        "confusion": confusion_figure(test["confusion"], business["threshold"]),
        "gains": gains_figure(
            {c: tables[f"gains_{c}"] for c in curves}, (called, business["genuine_recall"])
        ),
        "importance": importance_figure(importance, top),
    }


def drift_figure(table: pd.DataFrame, psi_alert: float, top: int) -> Figure:
    """Heatmap of PSI by feature (rows: the `top` most drifted, then the scores) and batch
    (columns), from the long table of `monitoring.drift_table`; cells with an alert are boxed."""
    psi = table.pivot_table(index="feature", columns="batch", values="psi", aggfunc="max")
    alerted = table.pivot_table(index="feature", columns="batch", values="alert", aggfunc="max")
    order = psi.drop(index="scores").max(axis=1).sort_values(ascending=False, kind="stable")
    rows = [*order.index[:top], "scores"]
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

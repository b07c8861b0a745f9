"""The lead model's evaluation figures: ROC, precision-recall, calibration, confusion, gains and
permutation importance, each against the Bayes-optimal score where it is known."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from leadsift.core.plots import COLORS, STYLE, figure, importance_figure, plot_curves, plt


def roc_figure(curves: Mapping[str, pd.DataFrame], aucs: Mapping[str, float]) -> Figure:
    """ROC curves of the model and, when known, the Bayes-optimal score."""
    fig, ax = figure(
        "ROC curve, test split",
        "false positive rate (junk kept)",
        "true positive rate (genuine kept)",
    )
    plot_curves(ax, curves, "fpr", "tpr", summary=aucs, metric="AUC")
    ax.plot([0, 1], [0, 1], color=COLORS["reference"], linestyle=":", label="random")
    ax.legend(loc="lower right")
    return fig


def pr_figure(
    curves: Mapping[str, pd.DataFrame], aps: Mapping[str, float], genuine_rate: float
) -> Figure:
    fig, ax = figure("Precision-recall curve, test split", "recall (genuine kept)", "precision")
    plot_curves(ax, curves, "recall", "precision", summary=aps, metric="AP")
    ax.axhline(genuine_rate, color=COLORS["reference"], linestyle=":", label="no skill")
    ax.set_ylim(0, 1.02)
    ax.legend(loc="lower left")
    return fig


def calibration_figure(table: pd.DataFrame) -> Figure:
    fig, ax = figure(
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
    fig, ax = figure(
        "Cumulative gains, test split",
        "share of leads called (highest score first)",
        "share of genuine leads reached",
    )
    plot_curves(ax, curves, "contacted", "captured")
    ax.plot([0, 1], [0, 1], color=COLORS["reference"], linestyle=":", label="random")
    called, recall = operating_point
    ax.scatter(
        [called], [recall], color="black", zorder=3, label=f"business threshold: call {called:.0%}"
    )
    ax.legend(loc="lower right")
    return fig


def evaluation_figures(
    summary: Mapping,
    tables: Mapping[str, pd.DataFrame],
    importance: pd.DataFrame,
    contributions: pd.DataFrame,
    top: int,
) -> dict[str, Figure]:
    """The evaluation figures, by file stem; Bayes curves are drawn when their tables exist, the
    contributions when the family has them."""
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
    } | (
        {
            "contributions": importance_figure(
                contributions,
                top,
                title="raw inputs by mean |contribution|, test split",
                xlabel="mean |contribution| to the log-odds (exact, per lead)",
            )
        }
        if len(contributions)
        else {}
    )

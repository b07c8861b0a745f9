"""The click model's figures: ROC against the ceiling, calibration on the scale installs live on
(fractions of a percent), predicted against observed installs per channel, and what flagging the
clicks worth least keeps."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from leadsift.core.plots import COLORS, figure, plot_curves


def roc_figure(tables: Mapping[str, pd.DataFrame], summary: Mapping[str, Any]) -> Figure:
    fig, ax = figure("ROC curve, test day", "false positive rate", "true positive rate (installs)")
    curves = {"model": tables["roc"]}
    aucs = {"model": summary["model"]["roc_auc"]}
    if "roc_truth" in tables:
        curves["bayes"], aucs["bayes"] = tables["roc_truth"], summary["ceiling"]["roc_auc"]
    plot_curves(ax, curves, "fpr", "tpr", summary=aucs, metric="AUC")
    ax.plot([0, 1], [0, 1], color=COLORS["reference"], linestyle=":", label="random")
    ax.legend(loc="lower right")
    return fig


def calibration_figure(table: pd.DataFrame) -> Figure:
    """Mean predicted against observed install rate per score decile, on log scales."""
    fig, ax = figure("Calibration, test day", "mean predicted probability", "observed install rate")
    shown = table[table["observed_rate"] > 0]
    low = min(shown["mean_predicted"].min(), shown["observed_rate"].min()) / 2
    ax.plot([low, 1], [low, 1], color=COLORS["reference"], linestyle=":", label="perfect")
    ax.plot(shown["mean_predicted"], shown["observed_rate"], marker="o", color=COLORS["model"],
            label="model")  # fmt: skip
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.legend(loc="upper left")
    return fig


def sources_figure(table: pd.DataFrame, source: str, top: int = 40) -> Figure:
    """Predicted against observed installs of the `top` levels with the most clicks."""
    shown = table.head(top)
    fig, ax = figure(
        f"Installs per {source}, test day ({len(shown)} with the most clicks)",
        "installs predicted",
        "installs observed",
    )
    high = max(shown["predicted"].max(), shown["installs"].max(), 1) * 1.1
    ax.plot([0, high], [0, high], color=COLORS["reference"], linestyle=":", label="equal")
    ax.scatter(shown["predicted"], shown["installs"], s=np.sqrt(shown["clicks"]) / 4,
               color=COLORS["model"], alpha=0.7, label="area: clicks")  # fmt: skip
    ax.legend(loc="upper left")
    return fig


def evaluation_figures(tables: Mapping[str, pd.DataFrame], summary: Mapping[str, Any]) -> dict:
    return {
        "roc": roc_figure(tables, summary),
        "calibration": calibration_figure(tables["calibration"]),
        "channels": sources_figure(tables["by_channel"], "channel"),
    }

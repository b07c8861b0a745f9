"""Curves of a score against labels, as small tables for plots and `dvc plots`: ROC,
precision-recall, cumulative gains and calibration, each thinned to a few hundred points so a
curve of millions of rows stays a file people can diff."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import precision_recall_curve, roc_curve


def _thin(frame: pd.DataFrame, n_points: int) -> pd.DataFrame:
    """Keep about n_points evenly spaced rows, always including the first and last."""
    if len(frame) <= n_points:
        return frame.reset_index(drop=True)
    index = np.unique(np.linspace(0, len(frame) - 1, n_points).round().astype(int))
    return frame.iloc[index].reset_index(drop=True)


def roc_table(y: np.ndarray, score: np.ndarray, n_points: int) -> pd.DataFrame:
    fpr, tpr, thresholds = roc_curve(y, score)
    table = pd.DataFrame({"fpr": fpr, "tpr": tpr, "threshold": np.clip(thresholds, 0.0, 1.0)})
    return _thin(table, n_points)


def pr_table(y: np.ndarray, score: np.ndarray, n_points: int) -> pd.DataFrame:
    precision, recall, thresholds = precision_recall_curve(y, score)
    table = pd.DataFrame(
        {
            "recall": recall[:-1],
            "precision": precision[:-1],
            "threshold": np.clip(thresholds, 0.0, 1.0),
        }
    )
    return _thin(table.iloc[::-1], n_points)


def calibration_table(
    y: np.ndarray, score: np.ndarray, n_bins: int, counted: str = "rows"
) -> pd.DataFrame:
    """Mean predicted vs observed positive rate in equal-count score bins, with the rows of each
    (a column named `counted`)."""
    frame = pd.DataFrame({"y": np.asarray(y), "score": np.asarray(score)})
    frame["bin"] = pd.qcut(frame["score"].rank(method="first"), n_bins, labels=False)
    table = frame.groupby("bin").agg(
        mean_predicted=("score", "mean"), observed_rate=("y", "mean"), **{counted: ("y", "size")}
    )
    return table.reset_index()


def gains_table(y: np.ndarray, score: np.ndarray, n_points: int) -> pd.DataFrame:
    """Cumulative gains: from the highest score down, the share of positives reached."""
    order = np.argsort(-np.asarray(score), kind="stable")
    hits = np.cumsum(np.asarray(y)[order])
    contacted = np.arange(1, len(order) + 1) / len(order)
    captured = hits / max(hits[-1], 1)
    table = pd.DataFrame(
        {"contacted": contacted, "captured": captured, "lift": captured / contacted}
    )
    return _thin(table, n_points)

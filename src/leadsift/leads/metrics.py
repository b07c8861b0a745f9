"""Model quality and the business view, as plain functions of labels and scores.

Scores are probabilities of "genuine". The business threshold is the highest score threshold that
still keeps a required share of genuine leads (recall); leads scoring below it are treated as junk
and not called. Above it, tiers tell sales where to start: `hot` is the largest top band whose
genuine rate reaches a target, `warm` the rest of the called leads, `cold` the junk. Thresholds are
chosen on validation data and then reported on test data.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.metrics import (
    average_precision_score,
    brier_score_loss,
    confusion_matrix,
    f1_score,
    log_loss,
    precision_score,
    recall_score,
    roc_auc_score,
)


def business_threshold(y: np.ndarray, score: np.ndarray, min_genuine_recall: float) -> float:
    """Highest threshold t at which the share of genuine leads scoring >= t meets the target."""
    if not 0.0 < min_genuine_recall <= 1.0:
        raise ValueError(f"min_genuine_recall must be in (0, 1], got {min_genuine_recall}")
    positives = np.sort(np.asarray(score)[np.asarray(y) == 1])[::-1]
    if positives.size == 0:
        raise ValueError("no genuine leads: the business threshold is undefined")
    needed = math.ceil(min_genuine_recall * positives.size - 1e-9)
    return float(positives[needed - 1])


def hot_threshold(y: np.ndarray, score: np.ndarray, min_genuine_rate: float) -> float:
    """Lowest threshold t whose top band (score >= t) has a genuine rate of at least the target:
    the largest band that meets it. Tied scores are in or out together; inf when no band does."""
    order = np.argsort(-np.asarray(score), kind="stable")
    ranked, hits = np.asarray(score)[order], np.cumsum(np.asarray(y)[order])
    band_ends = np.append(ranked[1:] != ranked[:-1], True)
    rate = hits / np.arange(1, len(ranked) + 1)
    meets = np.flatnonzero(band_ends & (rate >= min_genuine_rate - 1e-12))
    return float(ranked[meets[-1]]) if meets.size else math.inf


@dataclass(frozen=True)
class Tiers:
    """The rules that put a scored lead in a tier, and the tiers' names (params)."""

    cold_below: float  # the business threshold: below it a lead is junk
    hot_from: float  # at or above it (and the business threshold) a lead is hot; inf: none is
    names: Mapping[str, str]  # hot, warm, cold -> the names sales sees

    @property
    def hot_start(self) -> float:
        """Where hot really starts: a hot band never reaches below the business threshold."""
        return max(self.hot_from, self.cold_below)

    def assign(self, score: np.ndarray) -> np.ndarray:
        score = np.asarray(score)
        hot = score >= self.hot_start
        tier = np.where(hot, self.names["hot"], self.names["warm"]).astype(object)
        tier[score < self.cold_below] = self.names["cold"]
        return tier

    @classmethod
    def from_evaluation(cls, evaluation: Mapping, names: Mapping[str, str]) -> Tiers:
        """The tiers `evaluate` chose (reports/evaluation.json), under the names in params."""
        hot = evaluation["tiers"]["hot_from"]
        cold = evaluation["business"]["threshold"]
        return cls(cold, math.inf if hot is None else hot, names)


def tier_view(y: np.ndarray, tiers: np.ndarray, names: Mapping[str, str]) -> dict[str, dict]:
    """Per tier (hot, warm, cold): its name, leads, their share and genuine rate (None if empty)."""
    y = np.asarray(y)
    view = {}
    for key in ("hot", "warm", "cold"):
        inside = tiers == names[key]
        view[key] = {
            "name": names[key],
            "leads": int(inside.sum()),
            "share": float(inside.mean()) if len(y) else 0.0,
            "genuine_rate": float(y[inside].mean()) if inside.any() else None,
        }
    return view


def business_view(y: np.ndarray, score: np.ndarray, threshold: float) -> dict[str, float | int]:
    """What calling only leads scoring >= threshold means for sales."""
    y = np.asarray(y)
    called = np.asarray(score) >= threshold
    genuine, junk = y == 1, y == 0
    return {
        "threshold": threshold,
        "genuine_recall": float(called[genuine].mean()),
        "junk_filtered": float((~called[junk]).mean()),
        "calls_saved": float((~called).mean()),
        "genuine_missed": int((~called & genuine).sum()),
        "leads_called": int(called.sum()),
        "leads": len(y),
    }


def classification_metrics(y: np.ndarray, score: np.ndarray, threshold: float) -> dict:
    """Ranking, probability and thresholded metrics of one split."""
    y = np.asarray(y)
    predicted = (np.asarray(score) >= threshold).astype(int)
    tn, fp, fn, tp = confusion_matrix(y, predicted, labels=[0, 1]).ravel()
    return {
        "rows": len(y),
        "genuine_rate": float(y.mean()),
        "roc_auc": float(roc_auc_score(y, score)),
        "pr_auc": float(average_precision_score(y, score)),
        "log_loss": float(log_loss(y, score, labels=[0, 1])),
        "brier": float(brier_score_loss(y, score)),
        "precision": float(precision_score(y, predicted, zero_division=0)),
        "recall": float(recall_score(y, predicted, zero_division=0)),
        "f1": float(f1_score(y, predicted, zero_division=0)),
        "confusion": {"tn": int(tn), "fp": int(fp), "fn": int(fn), "tp": int(tp)},
    }


def prior_baseline(y: np.ndarray, train_rate: float) -> dict[str, float]:
    """Scores of the no-skill model that predicts the training genuine rate for every lead."""
    constant = np.full(len(y), train_rate)
    return {
        "roc_auc": 0.5,
        "pr_auc": float(np.mean(y)),
        "log_loss": float(log_loss(y, constant, labels=[0, 1])),
        "brier": float(brier_score_loss(y, constant)),
    }


def confusion_rows(y: np.ndarray, score: np.ndarray, threshold: float) -> pd.DataFrame:
    """One row per lead with actual and predicted class names, as `dvc plots` confusion expects."""
    names = np.array(["junk", "genuine"], dtype=object)
    predicted = (np.asarray(score) >= threshold).astype(int)
    return pd.DataFrame({"actual": names[np.asarray(y)], "predicted": names[predicted]})

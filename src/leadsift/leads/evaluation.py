"""The evaluation: validation picks the business threshold, test reports everything; and how the
promotion gate compares a lead model with the champion."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.inspection import permutation_importance
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.pipeline import Pipeline

from leadsift.core import curves
from leadsift.core.gate import Comparison, champion_scores, compare_paired, require_inputs
from leadsift.core.model_store import load_model
from leadsift.leads import metrics, reasons
from leadsift.leads.cleaning import LeadNormalizer
from leadsift.leads.models import TRUSTED_TYPES
from leadsift.leads.schema import ColumnRoles, raw_records


@dataclass(frozen=True)
class Scores:
    """Labels and model scores of one split, and the true probabilities where known."""

    y: np.ndarray
    model: np.ndarray
    bayes: np.ndarray | None = None


@dataclass(frozen=True)
class Evaluation:
    summary: dict
    tables: dict[str, pd.DataFrame]


def true_scores(truth: pd.Series | None, ids: pd.Series) -> np.ndarray | None:
    """True probabilities of these leads by id, or None unless the truth covers every one of them.

    Only the embedded synthetic data has a truth file; a team's own data never matches it.
    """
    if truth is None:
        return None
    matched = truth.reindex(ids)
    return None if matched.isna().any() else matched.to_numpy()


def evaluate_scores(
    validation: Scores,
    test: Scores,
    *,
    train_rate: float,
    min_genuine_recall: float,
    hot_genuine_rate: float,
    tier_names: Mapping[str, str],
    curve_points: int,
    calibration_bins: int,
) -> Evaluation:
    """Metrics of both splits, the business view and the tiers on test at the thresholds chosen
    on validation, plots."""
    threshold = metrics.business_threshold(validation.y, validation.model, min_genuine_recall)
    hot_from = metrics.hot_threshold(validation.y, validation.model, hot_genuine_rate)
    tiers = metrics.Tiers(threshold, hot_from, tier_names)
    summary: dict = {
        "business": {
            "min_genuine_recall": min_genuine_recall,
            **metrics.business_view(test.y, test.model, threshold),
        },
        "tiers": {
            "hot_genuine_rate": hot_genuine_rate,
            "hot_from": None if math.isinf(tiers.hot_start) else tiers.hot_start,
            **{
                name: metrics.tier_view(split.y, tiers.assign(split.model), tier_names)
                for name, split in (("validation", validation), ("test", test))
            },
        },
    }
    for name, split in (("validation", validation), ("test", test)):
        entry = metrics.classification_metrics(split.y, split.model, threshold)
        entry["prior"] = metrics.prior_baseline(split.y, train_rate)
        if split.bayes is not None:
            entry["bayes_roc_auc"] = float(roc_auc_score(split.y, split.bayes))
            entry["bayes_pr_auc"] = float(average_precision_score(split.y, split.bayes))
            entry["roc_auc_share_of_bayes"] = entry["roc_auc"] / entry["bayes_roc_auc"]
        summary[name] = entry

    tables = {}
    curve_tables = {"roc": curves.roc_table, "pr": curves.pr_table, "gains": curves.gains_table}
    for kind, table in curve_tables.items():
        tables[f"{kind}_model"] = table(test.y, test.model, curve_points)
        # Header-only when the true probabilities are unknown (a team's own data).
        bayes = test.bayes is not None
        tables[f"{kind}_bayes"] = table(test.y, test.bayes if bayes else test.model, curve_points)[
            : None if bayes else 0
        ]
    tables["calibration"] = curves.calibration_table(
        test.y, test.model, calibration_bins, counted="leads"
    )
    tables["confusion"] = metrics.confusion_rows(test.y, test.model, threshold)
    return Evaluation(summary=summary, tables=tables)


def importance_table(
    model: object,
    inputs: pd.DataFrame,
    y: np.ndarray,
    *,
    n_rows: int,
    repeats: int,
    seed: int,
) -> pd.DataFrame:
    """Permutation importance of each raw input column (drop in ROC-AUC), largest first.

    Computed on the full pipeline, so a column's importance includes every feature derived from it.
    """
    if len(inputs) > n_rows:
        rows = np.random.default_rng(seed).choice(len(inputs), n_rows, replace=False)
        inputs, y = inputs.iloc[np.sort(rows)], y[np.sort(rows)]
    if isinstance(model, Pipeline) and isinstance(model.steps[0][1], LeadNormalizer):
        # Normalising is stateless and cell by cell: permuting raw cells then normalising equals
        # normalising once then permuting, so the repeated predictions skip it.
        inputs, model = model[:1].transform(inputs), model[1:]
    result = permutation_importance(
        model, inputs, y, scoring="roc_auc", n_repeats=repeats, random_state=seed, n_jobs=1
    )
    table = pd.DataFrame(
        {
            "feature": inputs.columns,
            "importance": result.importances_mean,
            "std": result.importances_std,
        }
    )
    by_importance = table.sort_values(["importance", "feature"], ascending=[False, True])
    return by_importance.reset_index(drop=True)


def explained_leads(
    model: Pipeline,
    records: pd.DataFrame,
    ids: pd.Series,
    probability: np.ndarray,
    tiers: metrics.Tiers,
) -> tuple[dict[str, Any], pd.DataFrame]:
    """The report's view of per-lead reasons: three example leads (hot, borderline, junk) with
    their reasons, and the mean |contribution| per raw input (empty for a family without exact
    contributions, with the reason why)."""
    if not reasons.explains(model):
        why = f"{type(model[-1]).__name__} has no exact per-lead contributions"
        empty = pd.DataFrame({"feature": [], "importance": [], "std": []})
        return {"available": False, "why": why}, empty
    contribution = reasons.contributions(model, records)
    tier = tiers.assign(probability)
    positions = reasons.example_positions(probability, tier, tiers)
    rows = list(positions.values())
    chosen = reasons.Contributions(contribution.base[rows], contribution.by_input.iloc[rows])
    texts = reasons.reason_columns(chosen, reasons.displayed_values(model, records.iloc[rows]))
    examples = {}
    for (label, row), (_, text) in zip(positions.items(), texts.iterrows(), strict=True):
        examples[label] = {
            "id": str(ids.iloc[row]),
            "probability": float(probability[row]),
            "tier": str(tier[row]),
            "base": float(contribution.base[row]),
            **{
                d: [t for k, t in text.items() if k.startswith(d) and t]
                for d in ("raises", "lowers")
            },
        }
    overall = reasons.global_view(contribution)
    summary = {
        "available": True,
        "examples": examples,
        "mean_abs_contribution": dict(zip(overall["feature"], overall["importance"], strict=True)),
    }
    return summary, overall


def evaluate_model(
    model: Pipeline,
    splits: Mapping[str, pd.DataFrame],
    truth: pd.DataFrame,
    roles: ColumnRoles,
    params: Mapping[str, Any],
) -> Evaluation:
    """The evaluation of a lead model on its `splits` (train, of which only the target is read;
    validation and test): `evaluate_scores` with the true probabilities where `truth` (by id)
    covers a split, the permutation importance of each raw input on test and the test leads'
    reasons, under the `business`, `business_setup.tiers` and `leads_evaluate` params. Its tables
    hold the plot data, the importances (`importance`) and the mean contributions
    (`contributions`)."""
    settings, tier_names = params["leads_evaluate"], params["business_setup"]["tiers"]
    probability = truth.set_index(roles.id_column)["p_true"] if roles.id else None
    inputs = {name: raw_records(splits[name], roles) for name in ("validation", "test")}
    scores = {
        name: Scores(
            splits[name][roles.target].to_numpy(),
            model.predict_proba(records)[:, 1],
            true_scores(probability, splits[name][roles.id_column]),
        )
        for name, records in inputs.items()
    }
    result = evaluate_scores(
        scores["validation"],
        scores["test"],
        train_rate=splits["train"][[roles.target]].mean().item(),
        min_genuine_recall=params["business"]["min_genuine_recall"],
        hot_genuine_rate=params["business"]["hot_genuine_rate"],
        tier_names=tier_names,
        curve_points=settings["curve_points"],
        calibration_bins=settings["calibration_bins"],
    )
    importance = importance_table(
        model,
        inputs["test"],
        scores["test"].y,
        n_rows=settings["importance_rows"],
        repeats=settings["importance_repeats"],
        seed=settings["seed"],
    )
    result.summary["reasons"], contributions = explained_leads(
        model,
        inputs["test"],
        splits["test"][roles.id_column],
        scores["test"].model,
        metrics.Tiers.from_evaluation(result.summary, tier_names),
    )
    tables = {**result.tables, "importance": importance, "contributions": contributions}
    return Evaluation(summary=result.summary, tables=tables)


def roc_auc_of(y: np.ndarray) -> Callable[[np.ndarray, np.ndarray], float]:
    """The gate's metric for lead models: ROC-AUC of scores on the given rows (NaN if one class)."""
    y = np.asarray(y)

    def metric(scores: np.ndarray, rows: np.ndarray) -> float:
        if y[rows].min() == y[rows].max():
            return math.nan
        return float(roc_auc_score(y[rows], scores[rows]))

    return metric


def champion_comparison(
    model: Pipeline, records: pd.DataFrame, y: np.ndarray, gate: Mapping[str, Any]
) -> Callable[[str], Comparison]:
    """How the gate compares a lead model with the champion: both score the same test split, and
    a paired bootstrap over leads brackets the difference in ROC-AUC (`register.*` settings). A
    champion that reads columns the split lacks cannot be compared (`ChampionCannotScoreError`)."""

    def compare(champion_uri: str) -> Comparison:
        champion = load_model(champion_uri, TRUSTED_TYPES)
        require_inputs(champion.feature_names_in_, records)
        return compare_paired(
            roc_auc_of(y),
            model.predict_proba(records)[:, 1],
            champion_scores(lambda: champion.predict_proba(records)[:, 1]),
            n_bootstrap=gate["n_bootstrap"],
            confidence=gate["confidence"],
            seed=gate["seed"],
        )

    return compare

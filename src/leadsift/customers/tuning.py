"""The segmentation's tuning objective: silhouette of the segments on a seeded sample of customers.

Each trial fits a `Segmenter` with the trial's settings on every customer and measures the
silhouette (in the scaled features the clustering sees) on a seeded sample, since silhouette costs
the square of the customers measured. A setting whose smallest segment holds less than `min_share`
of the customers is pruned: silhouette likes degenerate splits (one big segment and a sliver).
Calinski-Harabasz and Davies-Bouldin are recorded for every trial, and BIC for mixtures.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import optuna
import pandas as pd
from sklearn.metrics import (
    adjusted_rand_score,
    calinski_harabasz_score,
    davies_bouldin_score,
    silhouette_score,
)

from leadsift.core.tuning import Dimension
from leadsift.customers.segmentation import Segmenter


def objective(
    customers: pd.DataFrame,
    dimensions: list[Dimension],
    fixed: Mapping[str, Any],
    *,
    sample: np.ndarray,
    min_share: float,
) -> Callable[[optuna.Trial], float]:
    """The function the study maximises: silhouette on the `sample` rows of `customers`."""

    def evaluate(trial: optuna.Trial) -> float:
        model = Segmenter(**fixed, **{d.name: d.suggest(trial) for d in dimensions})
        segments = model.fit(customers).predict(customers)
        scaled = model.transform(customers)
        smallest = np.bincount(segments, minlength=model.n_segments + 1)[1:].min() / len(segments)
        trial.set_user_attr("smallest_share", float(smallest))
        trial.set_user_attr("calinski_harabasz", float(calinski_harabasz_score(scaled, segments)))
        trial.set_user_attr("davies_bouldin", float(davies_bouldin_score(scaled, segments)))
        if model.family == "gaussian_mixture":
            trial.set_user_attr("bic", float(model.model_.bic(scaled)))
        if smallest < min_share:
            raise optuna.TrialPruned(f"smallest segment {smallest:.1%} < {min_share:.0%}")
        return float(silhouette_score(scaled[sample], segments[sample]))

    return evaluate


def stability(
    model: Segmenter, customers: pd.DataFrame, *, refits: int, seed: int
) -> dict[str, float] | None:
    """How much the segments move if the customers had been a little different: the adjusted
    Rand index between the model's segments and those of refits on bootstrap samples."""
    if refits == 0:
        return None
    rng = np.random.default_rng(seed)
    reference = model.predict(customers)
    scores = []
    for _ in range(refits):
        rows = rng.integers(0, len(customers), len(customers))
        refit = Segmenter(**model.get_params()).fit(customers.iloc[rows])
        scores.append(adjusted_rand_score(reference, refit.predict(customers)))
    return {"mean_ari": float(np.mean(scores)), "min_ari": float(np.min(scores)), "refits": refits}


def exhaustive_sampler(seed: int) -> optuna.samplers.BaseSampler:
    """Optuna's brute-force sampler, seeded: every setting of a finite space once, in a seeded
    order (a small discrete space is better tried whole than sampled). Optuna still labels it
    experimental; the label is not this project's concern, so it is silenced here."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.samplers.BruteForceSampler(seed=seed)

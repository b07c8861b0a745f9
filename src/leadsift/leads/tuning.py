"""The lead classifier's tuning objective: fit on the training split, score on validation.

Each trial fits on (a subsample of) the training split and is scored on the validation split: the
validation leads arrive after the training leads, exactly as in use, and one fit per trial keeps
the default budget within minutes (a time-respecting cross-validation would cost k fits).

The preprocessing (normalise, featurize, rare-level collapsing, encoding) does not depend on the
tuned hyperparameters, so it is fitted once and every trial fits only the classifier. Families with
a size that `warm_start` can grow (boosting rounds, trees) are fitted in `step` increments and
report the validation score at each size, so unpromising trials are pruned early. The study
itself (seeded sampler, pruners, trial table) is `core.tuning`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import optuna
import pandas as pd
from sklearn.base import ClassifierMixin, clone
from sklearn.metrics import average_precision_score, roc_auc_score

from leadsift.core.tuning import Dimension

METRICS = {"roc_auc": roc_auc_score, "pr_auc": average_precision_score}


def _sizes(total: int, step: int) -> list[int]:
    """Model sizes at which a growing trial reports: every `step`, and the full size last."""
    return sorted({*range(step, total, step), total})


@dataclass(frozen=True)
class TuningData:
    """Preprocessed training and validation matrices: what every trial fits and scores."""

    x_train: pd.DataFrame
    y_train: np.ndarray
    x_valid: pd.DataFrame
    y_valid: np.ndarray


def preprocess_once(
    preprocess: Any, train: tuple[pd.DataFrame, np.ndarray], valid: tuple[pd.DataFrame, np.ndarray]
) -> TuningData:
    """Fit the classifier-independent steps on training records and transform both splits."""
    x_train = preprocess.fit_transform(train[0], train[1])
    return TuningData(x_train, train[1], preprocess.transform(valid[0]), valid[1])


def objective(
    classifier: ClassifierMixin,
    dimensions: list[Dimension],
    data: TuningData,
    *,
    metric: str,
    budget: str | None,
    step: int,
    overrides: Mapping[str, Any],
) -> Callable[[optuna.Trial], float]:
    """The function Optuna maximises: the validation `metric` of a trial's classifier."""
    score = METRICS[metric]

    def evaluate(trial: optuna.Trial) -> float:
        params = {d.name: d.suggest(trial) for d in dimensions}
        model = clone(classifier).set_params(**params)
        if budget is None or budget not in params:
            model.fit(data.x_train, data.y_train)
            return float(score(data.y_valid, model.predict_proba(data.x_valid)[:, 1]))
        model.set_params(warm_start=True, **overrides)
        value = math.nan
        for size in _sizes(int(params[budget]), step):
            model.set_params(**{budget: size}).fit(data.x_train, data.y_train)
            value = float(score(data.y_valid, model.predict_proba(data.x_valid)[:, 1]))
            trial.report(value, size)
            if trial.should_prune():
                raise optuna.TrialPruned(f"pruned at {budget}={size} with {metric} {value:.4f}")
        return value

    return evaluate

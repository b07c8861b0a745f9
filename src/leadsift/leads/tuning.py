"""The lead classifier's tuning objective: fit on the training split, score on validation.

Each trial fits on (a subsample of) the training split and is scored on the validation split: the
validation leads arrive after the training leads, exactly as in use, and one fit per trial keeps
the default budget within minutes (a time-respecting cross-validation would cost k fits).

The preprocessing (normalise, featurize, rare-level collapsing, encoding) does not depend on the
tuned hyperparameters, so it is fitted once and every trial fits only the classifier. Families with
a size to grow (boosting rounds, trees) report the validation score every `step` rounds, so
unpromising trials are pruned early: scikit-learn's by refitting with `warm_start`, LightGBM from
one fit through a callback (its own evaluation of the validation split). The study itself
(seeded sampler, pruners, trial table) is `core.tuning`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import optuna
import pandas as pd
from sklearn.base import ClassifierMixin, clone
from sklearn.metrics import average_precision_score, roc_auc_score

from leadsift.core import tuning
from leadsift.core.tuning import Dimension
from leadsift.leads.models import FAMILIES, Family, pipeline_from_params
from leadsift.leads.schema import ColumnRoles, raw_records

METRICS = {"roc_auc": roc_auc_score, "pr_auc": average_precision_score}
LIGHTGBM_METRICS = {"roc_auc": "auc", "pr_auc": "average_precision"}  # the same scores


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


def _report_rounds(trial: optuna.Trial, step: int, total: int) -> Callable[[Any], None]:
    """A LightGBM callback: report the validation score every `step` rounds and at the last one,
    and stop the fit by pruning the trial when the pruner says so."""

    def report(env: Any) -> None:
        rounds = env.iteration + 1
        if rounds % step and rounds != total:
            return
        _, metric, value, _ = env.evaluation_result_list[0]
        trial.report(value, rounds)
        if trial.should_prune():
            raise optuna.TrialPruned(f"pruned at {rounds} rounds with {metric} {value:.4f}")

    return report


def objective(
    classifier: ClassifierMixin,
    dimensions: list[Dimension],
    data: TuningData,
    *,
    metric: str,
    family: Family,
    step: int,
) -> Callable[[optuna.Trial], float]:
    """The function Optuna maximises: the validation `metric` of a trial's classifier."""
    score = METRICS[metric]
    budget = family.budget

    def evaluate(trial: optuna.Trial) -> float:
        params = {d.name: d.suggest(trial) for d in dimensions}
        model = clone(classifier).set_params(**params)
        if budget is None or budget not in params:
            model.fit(data.x_train, data.y_train)
        elif family.grows_in_fit:
            model.fit(
                data.x_train,
                data.y_train,
                eval_X=(data.x_valid,),
                eval_y=(data.y_valid,),
                eval_metric=LIGHTGBM_METRICS[metric],
                callbacks=[_report_rounds(trial, step, int(params[budget]))],
            )
        else:
            model.set_params(warm_start=True, **family.grow_overrides)
            for size in _sizes(int(params[budget]), step):
                model.set_params(**{budget: size}).fit(data.x_train, data.y_train)
                value = float(score(data.y_valid, model.predict_proba(data.x_valid)[:, 1]))
                trial.report(value, size)
                if trial.should_prune():
                    raise optuna.TrialPruned(f"pruned at {budget}={size} with {metric} {value:.4f}")
            return value
        return float(score(data.y_valid, model.predict_proba(data.x_valid)[:, 1]))

    return evaluate


def objective_from_params(
    params: Mapping[str, Any], train: pd.DataFrame, valid: pd.DataFrame
) -> tuple[Callable[[optuna.Trial], float], list[Dimension]]:
    """The objective of `model.family` over its `tune_setup.spaces` entry, as `leads_tune` runs it:
    fit on `train` (already subsampled), scored on `valid` (split frames with the target)."""
    settings, setup, family = params["tune"], params["tune_setup"], params["model"]["family"]
    roles = ColumnRoles.from_params(params["leads"])
    fixed = params["model_setup"].get(family) or {}
    pipeline = pipeline_from_params(params, roles, fixed)
    classifier = pipeline[-1]
    space = tuning.parse_space(
        (setup["spaces"] or {}).get(family),
        f"tune_setup.spaces.{family}",
        set(classifier.get_params()),
        fixed,
        f"model_setup.{family}",
    )
    data = preprocess_once(
        pipeline[:-1],
        (raw_records(train, roles), train[roles.target].to_numpy()),
        (raw_records(valid, roles), valid[roles.target].to_numpy()),
    )
    evaluate = objective(
        classifier,
        space,
        data,
        metric=settings["metric"],
        family=FAMILIES[family],
        step=setup["step"],
    )
    return evaluate, space

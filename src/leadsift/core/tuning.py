"""Hyperparameter search with Optuna, shared by both pipelines: search spaces from the params
files, a seeded sampler, trials one at a time (so a study is reproducible), pruners, and the trial
table and importances the reports show. Each pipeline supplies its own objective.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import optuna
import pandas as pd

from leadsift.core.io import InputError
from leadsift.core.studies import Studies, run_stored

log = logging.getLogger("leadsift.tune")

PRUNERS: dict[str, Callable[[], optuna.pruners.BasePruner]] = {
    "median": lambda: optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=0),
    "successive_halving": optuna.pruners.SuccessiveHalvingPruner,
    "none": optuna.pruners.NopPruner,
}
# The lead study's samplers by name (`tune_setup.sampler`), each seeded; random search is the
# baseline TPE is measured against.
SAMPLERS: dict[str, Callable[[int], optuna.samplers.BaseSampler]] = {
    "tpe": lambda seed: optuna.samplers.TPESampler(seed=seed),
    "random": lambda seed: optuna.samplers.RandomSampler(seed=seed),
}


@dataclass(frozen=True)
class Dimension:
    """One searched hyperparameter: a numeric range or a list of choices."""

    name: str
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None
    choices: tuple | None = None

    def suggest(self, trial: optuna.Trial) -> Any:
        if self.choices is not None:
            return trial.suggest_categorical(self.name, list(self.choices))
        if isinstance(self.low, int) and isinstance(self.high, int):
            return trial.suggest_int(
                self.name, self.low, self.high, log=self.log, step=int(self.step or 1)
            )
        return trial.suggest_float(self.name, self.low, self.high, log=self.log, step=self.step)


def parse_space(
    spec: Mapping[str, Any],
    key: str,
    accepted: set[str],
    fixed: Mapping[str, Any],
    fixed_at: str = "",
) -> list[Dimension]:
    """Check a search space from config.yaml; every problem names its key, before any trial runs.

    `key` is where the space lives (e.g. `tune_setup.spaces.random_forest`), `accepted` the
    classifier's parameter names and `fixed` the settings the space may not tune, found at
    config.yaml key `fixed_at`.
    """
    if not isinstance(spec, Mapping) or not spec:
        raise InputError(f"config.yaml: `{key}` must map hyperparameter names to ranges or choices")
    dimensions = []
    for name, entry in spec.items():
        where = f"config.yaml: `{key}.{name}`"
        if name not in accepted:
            raise InputError(f"{where} is not a parameter of this model family")
        if name in fixed:
            raise InputError(f"{where} is also set under `{fixed_at}`; keep it in one place")
        if not isinstance(entry, Mapping):
            raise InputError(f"{where} must be {{low, high[, log, step]}} or {{choices: [...]}}")
        if unknown := set(entry) - {"low", "high", "log", "step", "choices"}:
            raise InputError(f"{where} has unknown key(s) {sorted(unknown)}")
        if "choices" in entry:
            choices = entry["choices"]
            if set(entry) != {"choices"} or not isinstance(choices, list) or not choices:
                raise InputError(f"{where}: `choices` must be a non-empty list, and alone")
            dimensions.append(Dimension(name, choices=tuple(choices)))
            continue
        low, high, log_scale, step = (
            entry.get("low"),
            entry.get("high"),
            entry.get("log", False),
            entry.get("step"),
        )
        numbers = (low, high) + ((step,) if step is not None else ())
        if any(isinstance(v, bool) or not isinstance(v, int | float) for v in numbers):
            raise InputError(f"{where} needs numeric `low` and `high` (and `step` if given)")
        if not low < high:
            raise InputError(f"{where}: `low` ({low}) must be below `high` ({high})")
        if log_scale and (low <= 0 or step is not None):
            raise InputError(f"{where}: a log range needs `low` > 0 and no `step`")
        if step is not None and step <= 0:
            raise InputError(f"{where}: `step` must be positive")
        dimensions.append(Dimension(name, low, high, bool(log_scale), step))
    return dimensions


def sample_rows(df: pd.DataFrame, max_rows: int | None, seed: int) -> pd.DataFrame:
    """A seeded random subsample of at most `max_rows` rows, in the original order."""
    if not max_rows or len(df) <= max_rows:
        return df
    rows = np.sort(np.random.default_rng(seed).choice(len(df), max_rows, replace=False))
    return df.iloc[rows]


def run_study(
    evaluate: Callable[[optuna.Trial], float],
    *,
    n_trials: int,
    seed: int,
    pruner: str,
    timeout: float | None = None,
    sampler: Callable[[int], optuna.samplers.BaseSampler] | None = None,
    studies: Studies | None = None,
    name: str = "study",
) -> optuna.Study:
    """A maximising study with a seeded TPE sampler (or `sampler(seed)`): in memory, trials one
    at a time; or, where `studies` names a storage, the stored study `name` completed to
    `n_trials` by its workers (`leadsift.core.studies`)."""
    make_sampler = sampler or (lambda s: optuna.samplers.TPESampler(seed=s))
    if studies is not None and studies.stored:
        study = run_stored(
            evaluate, studies, name=name, n_trials=n_trials, seed=seed, timeout=timeout,
            make_sampler=make_sampler, make_pruner=PRUNERS[pruner],
        )  # fmt: skip
    else:
        if studies is not None and studies.workers > 1:
            raise InputError(
                "config.yaml studies.workers > 1 needs studies.storage (a journal file or a "
                "PostgreSQL URL) for the workers to share the study"
            )
        study = optuna.create_study(
            direction="maximize", sampler=make_sampler(seed), pruner=PRUNERS[pruner]()
        )
        study.optimize(evaluate, n_trials=n_trials, timeout=timeout, n_jobs=1)
    if not any(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials):
        raise InputError(
            "no tuning trial completed; widen `tune_setup.spaces` or raise `tune.n_trials`"
        )
    return study


def trials_table(study: optuna.Study) -> pd.DataFrame:
    """One row per trial: number, state, value, best so far, params, what the objective recorded
    (`user_attrs`, e.g. a segmentation's other scores) and duration (wall time)."""
    rows = []
    best = -math.inf
    for trial in study.trials:
        complete = trial.state == optuna.trial.TrialState.COMPLETE
        if complete:
            best = max(best, trial.value)
        if complete:
            value = trial.value
        elif trial.last_step is not None:  # pruned: its last reported score
            value = trial.intermediate_values[trial.last_step]
        else:
            value = math.nan
        duration = trial.duration.total_seconds() if trial.duration else math.nan
        rows.append(
            {
                "number": trial.number,
                "state": trial.state.name.lower(),
                "value": value,
                "best_value": best if best > -math.inf else math.nan,
                **{f"param_{k}": v for k, v in sorted(trial.params.items())},
                **dict(sorted(trial.user_attrs.items())),
                "duration_s": round(duration, 2),
            }
        )
    return pd.DataFrame(rows)


def param_importances(study: optuna.Study, seed: int) -> pd.DataFrame:
    """fANOVA importance of each searched parameter for the objective (seeded, so reproducible)."""
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    names = sorted({k for t in complete for k in t.params})
    if len(complete) < 2 or len(names) < 2:
        return pd.DataFrame({"feature": names, "importance": [1.0] * len(names), "std": 0.0})
    evaluator = optuna.importance.FanovaImportanceEvaluator(seed=seed)
    scores = optuna.importance.get_param_importances(study, evaluator=evaluator)
    table = pd.DataFrame({"feature": list(scores), "importance": list(scores.values()), "std": 0.0})
    return table.sort_values(["importance", "feature"], ascending=[False, True], ignore_index=True)


def summary(study: optuna.Study, metric: str) -> dict:
    states = [t.state for t in study.trials]
    return {
        "metric": metric,
        "best_value": study.best_value,
        "best_trial": study.best_trial.number,
        "n_trials": len(states),
        "n_complete": states.count(optuna.trial.TrialState.COMPLETE),
        "n_pruned": states.count(optuna.trial.TrialState.PRUNED),
    }

"""What the click model learns from: days split in time, and negative down-samples drawn by the
engine, so that only a sample ever reaches memory.

The log's days split in order: `warmup_days` first (history for the windows, never trained on:
their day and all-time counts start empty), then training days, `validation_days` and, last,
`test_days`. A sample keeps every attributed click of its days and a share of the others, by a
pseudo-random number of the click id (`unit_sql`), the same on every engine and run: a negative is
drawn when its number is below `negative_rate * n_bags`, and belongs to bag
`floor(number / negative_rate)`, so the bags' negatives are disjoint.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import duckdb
import numpy as np
import optuna
import pandas as pd
from lightgbm import LGBMClassifier
from sklearn.metrics import log_loss, roc_auc_score

from leadsift.clicks.features import feature_names
from leadsift.clicks.model import ClickModel
from leadsift.core.io import InputError
from leadsift.core.studies import Studies, study_name
from leadsift.core.tuning import Dimension, parse_space, run_study

SCALE = 2**32
MULTIPLIER = 2_654_435_761  # Knuth's multiplicative hash: consecutive ids spread over [0, 1)


@dataclass(frozen=True)
class Split:
    """Day numbers (days since 1970-01-01) of each part of the log."""

    warmup: tuple[int, ...]
    train: tuple[int, ...]
    validation: tuple[int, ...]
    test: tuple[int, ...]


def split_days(days: Sequence[int], settings: Mapping[str, int]) -> Split:
    """The log's days in time order, split by `clicks_split` (warmup, validation, test days;
    training takes the rest, at least one)."""
    days = sorted(days)
    warmup, validation, test = (
        settings["warmup_days"],
        settings["validation_days"],
        settings["test_days"],
    )
    train = len(days) - warmup - validation - test
    if train < 1:
        raise InputError(
            f"the click log has {len(days)} day(s): too few for clicks_split's {warmup} warm-up, "
            f"{validation} validation and {test} test day(s) and at least one training day"
        )
    return Split(
        tuple(days[:warmup]),
        tuple(days[warmup : warmup + train]),
        tuple(days[warmup + train : warmup + train + validation]),
        tuple(days[len(days) - test :]),
    )


def unit_sql(seed: int, click_id: str = "click_id") -> str:
    """A number in [0, 1) per click id (the column `click_id`), uniform over ids, fixed by
    `seed`."""
    return f"((({click_id} + {seed}) * {MULTIPLIER}) % {SCALE}) / {float(SCALE)}"


def sample_sql(
    features: str,
    columns: Sequence[str],
    days: Sequence[int],
    *,
    negative_rate: float,
    n_bags: int,
    seed: int,
) -> str:
    """All attributed clicks of `days` and the negatives drawn for `n_bags` bags, with their bag
    (-1 for a positive, in every bag), in click_id order."""
    unit = unit_sql(seed)
    listed = ", ".join(str(d) for d in days)
    return (
        f"SELECT click_id, {', '.join(columns)}, is_attributed, CASE WHEN is_attributed = 1 "
        f"THEN -1 ELSE CAST(FLOOR({unit} / {negative_rate}) AS INTEGER) END AS bag "
        f"FROM {features} WHERE day IN ({listed}) AND is_attributed IS NOT NULL "
        f"AND (is_attributed = 1 OR {unit} < {negative_rate * n_bags}) ORDER BY click_id"
    )


def load_sample(
    connection: duckdb.DuckDBPyConnection,
    features: str,
    columns: Sequence[str],
    days: Sequence[int],
    **draw: Any,
) -> pd.DataFrame:
    """The sample of `sample_sql` in memory; positives must be among it."""
    sample = connection.execute(sample_sql(features, columns, days, **draw)).df()
    if not (sample["is_attributed"] == 1).any():
        raise InputError(f"no attributed click in days {list(days)}: nothing to learn from")
    return sample


def weighted_log_loss(y: np.ndarray, q: np.ndarray, negative_rate: float) -> float:
    """The full log's log loss, estimated on a sample holding `negative_rate` of the negatives:
    each negative counts 1 / negative_rate times."""
    weights = np.where(y == 1, 1.0, 1.0 / negative_rate)
    return float(log_loss(y, np.clip(q, 1e-15, 1 - 1e-15), sample_weight=weights, labels=[0, 1]))


METRICS: dict[str, Callable[[np.ndarray, np.ndarray, float], float]] = {
    "log_loss": lambda y, q, rate: -weighted_log_loss(y, q, rate),  # maximised
    "roc_auc": lambda y, q, rate: float(roc_auc_score(y, q)),
}


# The key levels (app, device, os, channel) are read as numbers, not as LightGBM categories: on a
# few thousand attributed clicks, its category splits over hundreds of apps and channels overfit
# the levels' few positives and pushed every probability of the good ones up; the install rates
# known so far carry each level's quality instead (docs/clicks.md has the measurement).
def model_for(
    params: Mapping[str, Any],
    features: Sequence[str],
    *,
    negative_rate: float,
    n_bags: int,
    seed: int,
) -> ClickModel:
    return ClickModel(
        features=list(features),
        negative_rate=negative_rate,
        n_bags=n_bags,
        params=dict(params),
        seed=seed,
    )


def objective(
    train: pd.DataFrame,
    valid: pd.DataFrame,
    space: Sequence[Dimension],
    fixed: Mapping[str, Any],
    features: Sequence[str],
    *,
    metric: str,
    negative_rate: float,
    seed: int,
) -> Callable[[optuna.Trial], float]:
    """A trial fits one booster on the first bag of `train` and scores the validation sample
    with `metric`, on the full log's scale."""
    first = train[train["bag"] <= 0]

    def evaluate(trial: optuna.Trial) -> float:
        params = {**fixed, **{d.name: d.suggest(trial) for d in space}}
        model = model_for(params, features, negative_rate=negative_rate, n_bags=1, seed=seed)
        model.fit(first, first["is_attributed"].to_numpy())
        q = model.predict_proba(valid)[:, 1]
        return METRICS[metric](valid["is_attributed"].to_numpy(), q, negative_rate)

    return evaluate


def labelled_days(connection: duckdb.DuckDBPyConnection, features: str) -> list[int]:
    """The days of the log (the clicks with a label), in order."""
    rows = connection.execute(
        f"SELECT DISTINCT day FROM {features} WHERE is_attributed IS NOT NULL ORDER BY day"
    ).fetchall()
    return [day for (day,) in rows]


def draw(params: Mapping[str, Any], n_bags: int) -> dict[str, Any]:
    """How a sample of `n_bags` bags is drawn: `clicks_sampling`'s rate, the study's seed."""
    train = params["clicks_sampling"]
    return {
        "negative_rate": train["negative_rate"],
        "n_bags": n_bags,
        "seed": params["clicks_tune"]["seed"],
    }


def study(
    connection: duckdb.DuckDBPyConnection, features: str, params: Mapping[str, Any]
) -> tuple[optuna.Study, list[Dimension], Split]:
    """The seeded Optuna study of the click model: trials fit one booster on the training days'
    sample and are scored on the validation days' (`clicks_tune`, `clicks_tune_setup`)."""
    split = split_days(labelled_days(connection, features), params["clicks_split"])
    setup, settings = params["clicks_tune_setup"], params["clicks_tune"]
    fixed = dict(setup["fixed"])
    accepted = set(LGBMClassifier().get_params())
    space = parse_space(
        setup["space"], "clicks_tune_setup.space", accepted, fixed, "clicks_tune_setup.fixed"
    )
    names = feature_names()
    train = load_sample(connection, features, names, split.train, **draw(params, 1))
    valid = load_sample(connection, features, names, split.validation, **draw(params, 1))
    evaluate = objective(
        train,
        valid,
        space,
        fixed,
        names,
        metric=settings["metric"],
        negative_rate=params["clicks_sampling"]["negative_rate"],
        seed=settings["seed"],
    )
    return (
        run_study(
            evaluate,
            n_trials=settings["n_trials"],
            seed=settings["seed"],
            pruner="none",
            studies=Studies.from_params(params),
            name=study_name("clicks_tune", params, [train, valid]),
        ),
        space,
        split,
    )


def fit(
    connection: duckdb.DuckDBPyConnection,
    features: str,
    params: Mapping[str, Any],
    best: Mapping[str, Any],
    *,
    names: Sequence[str],
    days: Sequence[int],
) -> tuple[ClickModel, pd.DataFrame]:
    """The click model with the study's best settings, its bags drawn from `days`, and the sample
    it learnt from."""
    bags = params["clicks_sampling"]["n_bags"]
    sample = load_sample(connection, features, names, days, **draw(params, bags))
    model = model_for(
        {**params["clicks_tune_setup"]["fixed"], **best},
        names,
        negative_rate=params["clicks_sampling"]["negative_rate"],
        n_bags=bags,
        seed=params["clicks_tune"]["seed"],
    )
    model.fit(sample, sample["is_attributed"].to_numpy(), bag=sample["bag"].to_numpy())
    return model, sample

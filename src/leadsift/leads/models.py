"""Model families and the full scoring pipeline: raw lead record in, probability of genuine out.

Adding a family is one entry in `FAMILIES`, its name in `leads.param_rules.FAMILIES` (which the
params checks read without importing the models; a test checks the two agree), its fixed settings
under `model:` and its search space under `tune_setup.spaces` in config.yaml.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from lightgbm import LGBMClassifier
from sklearn.base import ClassifierMixin
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

from leadsift.core.model_store import LIGHTGBM_TYPES
from leadsift.leads.cleaning import LeadNormalizer, cleaning_options
from leadsift.leads.features import (
    DirectColumnTransformer,
    LeadFeatures,
    LevelCodes,
    RareLevelCollapser,
    column_major,
    derived_feature_names,
)
from leadsift.leads.schema import ColumnRoles


def signed_log1p(x: np.ndarray) -> np.ndarray:
    """log1p that keeps the sign: tames heavy-tailed counts for linear models."""
    return np.sign(x) * np.log1p(np.abs(x))


@dataclass(frozen=True)
class Family:
    """How to build a classifier and how it wants its inputs encoded."""

    # hyperparameters, seed, the categorical columns' positions in the encoded matrix (first)
    make: Callable[[Mapping[str, Any], int, Sequence[int]], ClassifierMixin]
    # "ordinal" (level codes, declared categorical to the classifier) or "onehot"
    categorical_encoding: str
    scale_numeric: bool
    # A size that tuning grows (boosting rounds, trees), reporting scores along it so that a
    # trial can be pruned early: by refitting with `warm_start` (`grow_overrides` are settings
    # needed while growing step by step) or, with `grows_in_fit`, from one fit that reports each
    # round through a callback.
    budget: str | None = None
    grow_overrides: Mapping[str, Any] = field(default_factory=dict)
    grows_in_fit: bool = False


def _hist_gradient_boosting(
    hp: Mapping[str, Any], seed: int, categorical: Sequence[int]
) -> ClassifierMixin:
    return HistGradientBoostingClassifier(
        categorical_features=list(categorical) or None, random_state=seed, **hp
    )


def _random_forest(hp: Mapping[str, Any], seed: int, categorical: Sequence[int]) -> ClassifierMixin:
    return RandomForestClassifier(random_state=seed, **hp)


def _lightgbm(hp: Mapping[str, Any], seed: int, categorical: Sequence[int]) -> ClassifierMixin:
    """LightGBM splitting natively on the level codes (`categorical_column`: their positions)."""
    return LGBMClassifier(random_state=seed, categorical_column=list(categorical), **hp)


def _logistic_regression(
    hp: Mapping[str, Any], seed: int, categorical: Sequence[int]
) -> ClassifierMixin:
    return LogisticRegression(random_state=seed, **hp)


# Types beyond scikit-learn's defaults that a saved pipeline holds: skops refuses to load anything
# not listed. The tree arrays of HistGradientBoosting and of the forests are indexed without bounds
# checks, and LightGBM's booster is rebuilt by its own parser (`LIGHTGBM_TYPES`); they are trusted
# because this project only loads models it saved itself or took from its own registry. A test
# saves and loads every family.
TRUSTED_TYPES = [
    "collections.OrderedDict",
    "functools.partial",
    "leadsift.leads.cleaning.LeadNormalizer",
    "leadsift.leads.features.DirectColumnTransformer",
    "leadsift.leads.features.LeadFeatures",
    "leadsift.leads.features.LevelCodes",
    "leadsift.leads.features.RareLevelCollapser",
    "leadsift.leads.features.column_major",
    "leadsift.leads.models.signed_log1p",
    "leadsift.leads.sales.SalesScorer",
    *LIGHTGBM_TYPES,
    "numpy.dtype",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.tree._tree.Tree",
    "sklearn.utils.validation.check_array",
]

FAMILIES: dict[str, Family] = {
    "hist_gradient_boosting": Family(
        _hist_gradient_boosting,
        "ordinal",
        scale_numeric=False,
        budget="max_iter",
        grow_overrides={"early_stopping": False},
    ),
    "lightgbm": Family(
        _lightgbm, "ordinal", scale_numeric=False, budget="n_estimators", grows_in_fit=True
    ),
    "logistic_regression": Family(_logistic_regression, "onehot", scale_numeric=True),
    "random_forest": Family(_random_forest, "ordinal", scale_numeric=False, budget="n_estimators"),
}


def _encoder(family: Family, coverage: float, max_levels: int) -> Pipeline:
    if family.categorical_encoding == "ordinal":
        encode = LevelCodes()
    else:
        encode = OneHotEncoder(handle_unknown="ignore", sparse_output=False)
    return Pipeline(
        [
            ("collapse", RareLevelCollapser(coverage=coverage, max_levels=max_levels)),
            ("encode", encode),
        ]
    )


def _numeric(family: Family) -> Pipeline | FunctionTransformer:
    if not family.scale_numeric:
        return FunctionTransformer(column_major, feature_names_out="one-to-one")
    return Pipeline(
        [
            ("impute", SimpleImputer(strategy="median")),
            ("log", FunctionTransformer(signed_log1p, feature_names_out="one-to-one")),
            ("scale", StandardScaler()),
        ]
    )


def build_pipeline(
    roles: ColumnRoles,
    *,
    missing_values: Sequence[str],
    aliases: Mapping[str, Mapping[str, str]],
    family: str,
    hyperparams: Mapping[str, Any],
    coverage: float,
    max_levels: int,
    seed: int,
) -> Pipeline:
    """normalise → featurize → collapse rare levels + encode → classifier, as one estimator.

    The first two steps are the same code the `prepare` and `featurize` stages run; the rest is
    learned in `fit`, on the training split only.
    """
    spec = FAMILIES[family]
    categorical = list(roles.categorical)
    numeric = roles.numeric_inputs + derived_feature_names(
        roles.interaction_groups, roles.timestamp
    )
    encode = DirectColumnTransformer(
        [
            ("categorical", _encoder(spec, coverage, max_levels), categorical),
            ("numeric", _numeric(spec), numeric),
        ],
        verbose_feature_names_out=False,
    )  # a plain matrix, categorical columns first: a frame costs milliseconds per lead served
    return Pipeline(
        [
            (
                "normalize",
                LeadNormalizer(
                    categorical=categorical,
                    numeric=roles.numeric_inputs,
                    timestamp=roles.timestamp,
                    missing_values=list(missing_values),
                    aliases={k: dict(v) for k, v in aliases.items()},
                ),
            ),
            (
                "featurize",
                LeadFeatures(
                    interaction_groups=roles.interaction_groups, timestamp=roles.timestamp
                ),
            ),
            ("encode", encode),
            ("classify", spec.make(hyperparams, seed, range(len(categorical)))),
        ]
    )


def pipeline_from_params(
    params: Mapping[str, Any], roles: ColumnRoles, hyperparams: Mapping[str, Any]
) -> Pipeline:
    """`build_pipeline` for `model.family` with the settings the params files give it."""
    return build_pipeline(
        roles,
        **cleaning_options(params),
        family=params["model"]["family"],
        hyperparams=hyperparams,
        coverage=params["train"]["coverage"],
        max_levels=params["train_setup"]["max_levels"],
        seed=params["model_setup"]["seed"],
    )


def training_summary(
    pipeline: Pipeline, y: np.ndarray, hyperparams: Mapping[str, Any]
) -> dict[str, Any]:
    """The settings and what a fitted pipeline learned, for reports/train.json."""
    classifier = pipeline.named_steps["classify"]
    encode = pipeline.named_steps["encode"]
    collapse = encode.named_transformers_["categorical"].named_steps["collapse"]
    fitted_iterations = getattr(classifier, "n_iter_", None)  # boosting rounds / solver steps
    return {
        "rows": len(y),
        "genuine_rate": float(np.mean(y)),
        "features": len(encode.get_feature_names_out()),
        "hyperparameters": dict(hyperparams),
        "fitted_iterations": None if fitted_iterations is None else int(np.max(fitted_iterations)),
        "levels_kept": {column: len(levels) for column, levels in collapse.levels_.items()},
    }

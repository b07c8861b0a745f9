"""Model families and the full scoring pipeline: raw lead record in, probability of genuine out.

Adding a family is one entry in `FAMILIES` (and its hyperparameters under `model:` in params.yaml).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.base import ClassifierMixin
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, OrdinalEncoder, StandardScaler

from leadsift.cleaning import LeadNormalizer
from leadsift.features import LeadFeatures, RareLevelCollapser, derived_feature_names
from leadsift.io import InputError
from leadsift.schema import ColumnRoles


def signed_log1p(x: np.ndarray) -> np.ndarray:
    """log1p that keeps the sign: tames heavy-tailed counts for linear models."""
    return np.sign(x) * np.log1p(np.abs(x))


@dataclass(frozen=True)
class Family:
    """How to build a classifier and how it wants its inputs encoded."""

    make: Callable[[Mapping[str, Any], int, Sequence[str]], ClassifierMixin]
    categorical_encoding: str  # "ordinal" (native categorical support) or "onehot"
    scale_numeric: bool


def _hist_gradient_boosting(
    hp: Mapping[str, Any], seed: int, categorical: Sequence[str]
) -> ClassifierMixin:
    return HistGradientBoostingClassifier(
        categorical_features=list(categorical) or None, random_state=seed, **hp
    )


def _logistic_regression(
    hp: Mapping[str, Any], seed: int, categorical: Sequence[str]
) -> ClassifierMixin:
    return LogisticRegression(random_state=seed, **hp)


# Types beyond scikit-learn's own that a saved pipeline holds: skops refuses to load anything not
# listed. HistGradientBoosting's tree arrays and its input check are trusted because this project
# only loads models it saved itself or took from its own registry.
TRUSTED_TYPES = [
    "functools.partial",
    "leadsift.cleaning.LeadNormalizer",
    "leadsift.features.LeadFeatures",
    "leadsift.features.RareLevelCollapser",
    "leadsift.models.signed_log1p",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.utils.validation.check_array",
]

FAMILIES: dict[str, Family] = {
    "hist_gradient_boosting": Family(_hist_gradient_boosting, "ordinal", scale_numeric=False),
    "logistic_regression": Family(_logistic_regression, "onehot", scale_numeric=True),
}


def get_family(name: str) -> Family:
    if name not in FAMILIES:
        raise InputError(
            f"params.yaml: `model.family` {name!r} is unknown; choose one of {sorted(FAMILIES)}"
        )
    return FAMILIES[name]


def _encoder(family: Family, coverage: float, max_levels: int) -> Pipeline:
    if family.categorical_encoding == "ordinal":
        encode = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=np.nan)
    else:
        encode = OneHotEncoder(handle_unknown="ignore", sparse_output=False)
    return Pipeline(
        [
            ("collapse", RareLevelCollapser(coverage=coverage, max_levels=max_levels)),
            ("encode", encode),
        ]
    )


def _numeric(family: Family) -> Pipeline | str:
    if not family.scale_numeric:
        return "passthrough"
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
    spec = get_family(family)
    categorical = list(roles.categorical)
    numeric = roles.numeric_inputs + derived_feature_names(
        roles.interaction_groups, roles.timestamp
    )
    encode = ColumnTransformer(
        [
            ("categorical", _encoder(spec, coverage, max_levels), categorical),
            ("numeric", _numeric(spec), numeric),
        ],
        verbose_feature_names_out=False,
    ).set_output(transform="pandas")
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
            ("classify", spec.make(hyperparams, seed, categorical)),
        ]
    )

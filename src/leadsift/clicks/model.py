"""The click model: LightGBM bagged over negative down-samples, its probabilities corrected for
the sampling, so that they hold on the full log.

A log with 0.25% attributed clicks holds a few hundred negatives per positive. Training keeps
every positive and a share `negative_rate` of the negatives, as the competition's winners did;
each of `n_bags` boosters sees another share (a disjoint part of the negatives the engine drew),
with its own seed. A booster's probability p on the sample is the full log's
q = p / (p + (1 - p) / negative_rate) (He et al., 2014): ROC-AUC is unchanged by the correction,
log loss and calibration need it. The bags' corrected probabilities are averaged, then moved by
one offset on the log-odds scale, fitted on the training sample so that the installs it predicts
there (each unattributed click standing for those it was drawn from) equal those observed:
regularised boosters shrink the leaves of the few attributed clicks towards the base rate, and
since installs gather at the highest probabilities, the day's predicted total fell short. Fitted
in sample, the offset would carry a setting's overconfidence on its training clicks to new days;
the study scores every setting with its offset on the validation days, so such settings lose.

Like every model here, it is one scikit-learn estimator, saved with its settings, so scoring and
serving apply exactly what training learned. `ClickScorer` is what is registered, scored with and
served: the model with the flag threshold evaluation chose, answering checked feature rows.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from lightgbm import LGBMClassifier
from scipy.optimize import brentq
from scipy.special import expit, logit
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from leadsift.clicks.features import feature_names, may_be_missing
from leadsift.core.contract import (
    ContractBreachError,
    contract_violations,
    finite_number,
    parse_numbers,
    rule,
    select_columns,
)
from leadsift.core.io import first_few
from leadsift.core.model_store import LIGHTGBM_TYPES

EDGE = 1e-12  # probabilities are kept this far from 0 and 1 on the log-odds scale
# Types beyond scikit-learn's defaults a saved click model holds: skops refuses anything else.
TRUSTED_TYPES = [
    "collections.OrderedDict",
    "leadsift.clicks.model.ClickModel",
    "leadsift.clicks.model.ClickScorer",
    "numpy.dtype",
    *LIGHTGBM_TYPES,
]


def _total_matching_offset(q: np.ndarray, y: np.ndarray, negative_weight: float) -> float:
    """The log-odds offset that makes the weighted sum of `q` equal the positives of `y`."""
    weight = np.where(y == 1, 1.0, negative_weight)
    z = logit(np.clip(q, EDGE, 1 - EDGE))
    return float(brentq(lambda d: (weight * expit(z + d)).sum() - y.sum(), -10.0, 10.0))


def corrected(p: np.ndarray, negative_rate: float) -> np.ndarray:
    """The full log's probability of a booster's p on a sample with `negative_rate` of the
    negatives and all positives."""
    return p / (p + (1.0 - p) / negative_rate)


class ClickModel(ClassifierMixin, BaseEstimator):
    """Bagged LightGBM boosters on negative down-samples; `predict_proba` answers for the full
    log. `features` are the columns it reads, all as numbers."""

    def __init__(
        self,
        *,
        features: Sequence[str] = (),
        negative_rate: float = 0.02,
        n_bags: int = 1,
        params: Mapping[str, Any] | None = None,
        seed: int = 0,
    ) -> None:
        self.features = features
        self.negative_rate = negative_rate
        self.n_bags = n_bags
        self.params = params
        self.seed = seed

    def fit(self, X: pd.DataFrame, y: np.ndarray, bag: np.ndarray | None = None) -> ClickModel:  # noqa: N803
        """Fit one booster per bag: all positives, and the negatives whose `bag` it is (a
        negative's bag is drawn by the engine; without `bag`, every booster sees them all)."""
        y = np.asarray(y)
        bag = np.zeros(len(y), dtype=int) if bag is None else np.asarray(bag)
        values = X[list(self.features)]
        self.boosters_ = []
        for number in range(self.n_bags):
            rows = (y == 1) | (bag == number) if self.n_bags > 1 else np.ones(len(y), bool)
            booster = LGBMClassifier(**{**(self.params or {}), "random_state": self.seed + number})
            booster.fit(values[rows], y[rows])
            self.boosters_.append(booster)
        self.offset_ = 0.0
        self.offset_ = _total_matching_offset(
            self.predict_proba(X)[:, 1], y, 1.0 / (self.negative_rate * self.n_bags)
        )
        self.classes_ = np.array([0, 1])
        self.feature_names_in_ = np.asarray(self.features, dtype=object)
        self.n_features_in_ = len(self.features)
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:  # noqa: N803
        check_is_fitted(self, "boosters_")
        # the float64 matrix LightGBM's scikit-learn wrapper would make of the frame, given to
        # each booster directly: the same probabilities, without the wrapper's checks per call;
        # never more threads than the process may use (a thread waiting for a core spins)
        chosen = X if list(X.columns) == list(self.features) else X[list(self.features)]
        values = np.ascontiguousarray(chosen.to_numpy(np.float64))  # rows in a row: 2.5x faster
        threads = min(int((self.params or {}).get("n_jobs") or 1), _usable_cores())
        q = np.mean(
            [
                corrected(b.booster_.predict(values, num_threads=threads), self.negative_rate)
                for b in self.boosters_
            ],
            axis=0,
        )
        if self.offset_:
            q = expit(logit(np.clip(q, EDGE, 1 - EDGE)) + self.offset_)
        return np.column_stack([1.0 - q, q])

    def predict(self, X: pd.DataFrame) -> np.ndarray:  # noqa: N803
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(int)


def _usable_cores() -> int:
    """The cores this process may run on (its affinity, where the system has one)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def feature_problems(rows: pd.DataFrame, features: Sequence[str]) -> list[str]:
    """`row N: <reasons>` for each feature row a click model cannot answer for: a column missing,
    a value that is not a finite number (missing is allowed only where a click may lack it: a
    gap, a rate), one of the pipeline's features below 0, a rate above 1."""
    if missing := [c for c in features if c not in rows.columns]:
        return [f"every row: missing column(s) {missing}"]
    optional = [c for c in may_be_missing() if c in features]
    required = [c for c in features if c not in optional]
    counted = [c for c in features if c in feature_names()]  # ids, counts, gaps, rates, the hour
    rates = [c for c in optional if c.startswith("rate_")]
    contract = [
        *rule("{column} is not a finite number", required, finite_number, ignore_na=False),
        *rule("{column} is not a finite number", optional, finite_number),
        *rule("negative {column}", counted, lambda c: ~(c.numbers < 0)),
        *rule("{column} above 1", rates, lambda c: ~(c.numbers > 1)),
    ]
    found = contract_violations(contract, select_columns(rows, features).reset_index(drop=True))
    return [f"row {i}: {reason}" for i, reason in found.dropna().items()]


class ClickScorer(BaseEstimator):
    """The click model with the threshold below which a click is flagged as worth least (the one
    evaluation chose on the test day); `predict` answers a click's features with its probability
    of attribution and its flag. Fitting learns nothing: the model comes fitted."""

    def __init__(self, model: ClickModel | None = None, threshold: float = 0.0) -> None:
        self.model = model
        self.threshold = threshold

    def fit(self, X: pd.DataFrame, y: object = None) -> ClickScorer:  # noqa: N803
        return self

    @property
    def features(self) -> list[str]:
        return list(self.model.features)

    @property
    def feature_names_in_(self) -> np.ndarray:
        return self.model.feature_names_in_

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:  # noqa: N803
        return self.model.predict_proba(X)

    def predict(self, X: pd.DataFrame) -> pd.DataFrame:  # noqa: N803
        """Per feature row, `probability` and `flagged`, for rows checked first: any that a click
        cannot hold are refused, naming the row, column and problem (over HTTP, a 400)."""
        if not len(X):
            raise ContractBreachError("no click feature rows to score: send at least one")
        if problems := feature_problems(X, self.features):
            raise ContractBreachError(
                f"{len(problems)} click feature row(s) were not scored: "
                f"{first_few(problems, 10, sep='; ')}"
            )
        return self.answer(parse_numbers(select_columns(X, self.features)).astype(float))

    def answer(self, X: pd.DataFrame) -> pd.DataFrame:  # noqa: N803
        """`probability` and `flagged` per row of features already known to be sound."""
        probability = self.model.predict_proba(X)[:, 1]
        return pd.DataFrame(
            {"probability": probability, "flagged": probability < self.threshold}, index=X.index
        )

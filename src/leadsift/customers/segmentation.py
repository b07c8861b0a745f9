"""The segmentation model: scale the chosen customer features, cluster, number the segments.

`Segmenter` is one scikit-learn estimator, so what it learns (the scaling, the clusters, the
numbering) is fitted together and saved together, and a customer summary gets its segment from
the saved model exactly as in training. Families: K-means, and a Gaussian mixture started from
the K-means centres (with a tied covariance its boundaries are straight, like K-means', but they
weigh the features by how they vary within segments instead of equally).

Cluster labels of a refit permute at random; segments are numbered instead by their profile, the
most valuable first: by median total spend (monetary) descending, then median recency ascending.
So the same customers get the same segment numbers from run to run.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.cluster import KMeans
from sklearn.metrics import silhouette_samples
from sklearn.mixture import GaussianMixture
from sklearn.preprocessing import QuantileTransformer, StandardScaler
from sklearn.utils.validation import check_is_fitted

from leadsift.core.contract import ContractBreachError
from leadsift.core.gate import (
    ChampionCannotScoreError,
    Comparison,
    champion_scores,
    compare_paired,
    require_inputs,
)
from leadsift.core.io import first_few
from leadsift.core.model_store import load_model
from leadsift.customers.features import summary_problems

FAMILIES = ("gaussian_mixture", "kmeans")
# Types beyond scikit-learn's defaults a saved segmentation holds: skops refuses anything else.
TRUSTED_TYPES = ["leadsift.customers.segmentation.Segmenter", "numpy.dtype"]
SCALINGS = ("log", "quantile")
ORDER_BY = (("monetary", False), ("recency_days", True))  # (feature, ascending)


class Segmenter(ClusterMixin, BaseEstimator):
    """Scaling (log1p then standardise, or normal quantiles) + clustering + profile numbering."""

    def __init__(
        self,
        *,
        features: Sequence[str] = (),
        scaling: str = "log",
        family: str = "kmeans",
        n_segments: int = 5,
        covariance_type: str = "tied",
        n_init: int = 10,
        seed: int = 0,
    ) -> None:
        self.features = features
        self.scaling = scaling
        self.family = family
        self.n_segments = n_segments
        self.covariance_type = covariance_type
        self.n_init = n_init
        self.seed = seed

    def _values(self, X: pd.DataFrame) -> np.ndarray:  # noqa: N803
        missing = [f for f in self.features if f not in X.columns]
        if missing:
            raise ValueError(f"customer summaries lack feature(s) {missing}")
        values = X[list(self.features)].to_numpy(dtype=float)
        return np.log1p(np.clip(values, 0, None)) if self.scaling == "log" else values

    def fit(self, X: pd.DataFrame, y: object = None) -> Segmenter:  # noqa: N803
        if self.family not in FAMILIES or self.scaling not in SCALINGS:
            raise ValueError(f"family must be in {FAMILIES} and scaling in {SCALINGS}")
        values = self._values(X)
        if self.scaling == "log":
            self.scaler_ = StandardScaler().fit(values)
        else:
            self.scaler_ = QuantileTransformer(
                output_distribution="normal",
                n_quantiles=min(1000, len(values)),
                random_state=self.seed,
            ).fit(values)
        scaled = self.scaler_.transform(values)
        kmeans = KMeans(self.n_segments, n_init=self.n_init, random_state=self.seed).fit(scaled)
        if self.family == "kmeans":
            self.model_ = kmeans
        else:
            self.model_ = GaussianMixture(
                self.n_segments,
                covariance_type=self.covariance_type,
                means_init=kmeans.cluster_centers_,
                random_state=self.seed,
            ).fit(scaled)
        clusters = self.model_.predict(scaled)
        profile = X.assign(_cluster=clusters).groupby("_cluster")[[f for f, _ in ORDER_BY]].median()
        profile = profile.reindex(range(self.n_segments))
        ranked = profile.sort_values(
            [f for f, _ in ORDER_BY], ascending=[a for _, a in ORDER_BY], na_position="last"
        )
        self.segment_of_cluster_ = np.empty(self.n_segments, dtype=int)
        self.segment_of_cluster_[ranked.index.to_numpy()] = np.arange(1, self.n_segments + 1)
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.n_features_in_ = X.shape[1]
        return self

    def transform(self, X: pd.DataFrame) -> np.ndarray:  # noqa: N803
        """The scaled features the clustering sees."""
        check_is_fitted(self, "model_")
        return self.scaler_.transform(self._values(X))

    def predict(self, X: pd.DataFrame) -> np.ndarray:  # noqa: N803
        """Segment numbers, 1 = the most valuable, for summaries that meet the contract; any that
        do not are refused, naming the row, column and problem (over HTTP, a 400)."""
        if not len(X):
            raise ContractBreachError("no customer summaries to segment: send at least one")
        if problems := summary_problems(X, self.features):
            raise ContractBreachError(
                f"{len(problems)} customer summar(ies) break the contract and were not "
                f"segmented: {first_few(problems, 10, sep='; ')}"
            )
        return self.segment_of_cluster_[self.model_.predict(self.transform(X))]


def neutral_space(customers: pd.DataFrame, features: Sequence[str]) -> np.ndarray:
    """The customers in one fixed space for comparing segmentations: log1p of the features,
    standardised on these customers (what no model chose, so neither is favoured)."""
    values = np.log1p(customers[list(features)].clip(lower=0).to_numpy(dtype=float))
    return StandardScaler().fit_transform(values)


def silhouettes(space: np.ndarray, segments: np.ndarray) -> np.ndarray:
    """Each customer's silhouette (cohesion against separation) for a segmentation."""
    if len(np.unique(segments)) < 2:
        return np.full(len(segments), np.nan)
    return silhouette_samples(space, segments)


def champion_comparison(
    model: Segmenter, customers: pd.DataFrame, space: np.ndarray, gate: Mapping[str, Any]
) -> Callable[[str], Comparison]:
    """How the gate compares a segmentation with the champion: both segment the same current
    customers, measured in the same neutral space, and a paired bootstrap over customers brackets
    the difference in mean silhouette (`customers_register.*` settings). A champion whose
    features the customers lack, or lack values of (a product column gone), or that puts them all
    in one segment (its features constant here), cannot be compared."""

    def compare(champion_uri: str) -> Comparison:
        champion = load_model(champion_uri, TRUSTED_TYPES)
        require_inputs(champion.features, customers, complete=True)
        theirs = silhouettes(space, champion_scores(lambda: champion.predict(customers)))
        if np.isnan(theirs).all():
            raise ChampionCannotScoreError("it puts every current customer in one segment")
        return compare_paired(
            lambda values, rows: float(np.nanmean(values[rows])),
            silhouettes(space, model.predict(customers)),
            theirs,
            n_bootstrap=gate["n_bootstrap"],
            confidence=gate["confidence"],
            seed=gate["seed"],
        )

    return compare

"""Features of a lead: row-wise derived columns, and rare-level collapsing learned on train data.

`add_features` is stateless and row-wise (the `featurize` stage and the saved model share it).
`RareLevelCollapser` learns from data, so it lives only inside the model pipeline and is fitted on
the training split.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache, partial
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.utils.validation import check_is_fitted

from leadsift.core.contract import (
    each_distinct,
    frame_of_columns,
    groupable,
    levels_dtype,
    select_columns,
)

TIME_PARTS = ("hour", "weekday", "month")


def derived_feature_names(
    interaction_groups: Mapping[str, Sequence[str]], timestamp: str | None
) -> list[str]:
    """Names of the columns `add_features` adds, in order."""
    names = [f"{group}_total" for group in interaction_groups]
    if interaction_groups:
        names += ["interactions_total", "active_groups"]
    if timestamp:
        names += [f"{timestamp}_{part}" for part in TIME_PARTS]
    return names


def add_features(
    df: pd.DataFrame, interaction_groups: Mapping[str, Sequence[str]], timestamp: str | None
) -> pd.DataFrame:
    """Add per-group interaction totals, their sum, active groups and time-of-creation parts
    (`derived_features`)."""
    return pd.concat([df, derived_features(df, interaction_groups, timestamp)], axis=1)


def derived_features(
    df: pd.DataFrame, interaction_groups: Mapping[str, Sequence[str]], timestamp: str | None
) -> pd.DataFrame:
    """Per-group interaction totals, their sum, active groups and time-of-creation parts, as
    floats in one block (`derived_feature_names`).

    Missing counts add nothing to a total. Time parts are missing where the timestamp is.
    """
    names = derived_feature_names(interaction_groups, timestamp)
    if clash := [n for n in names if n in df.columns]:
        raise ValueError(
            f"derived feature name(s) {clash} already exist as input columns; rename them"
        )
    derived: dict[str, np.ndarray] = {}
    if interaction_groups:
        # one block of all members (selecting columns costs even a one-row call), summed per group
        members = list(dict.fromkeys(c for columns in interaction_groups.values() for c in columns))
        counts = select_columns(df, members).to_numpy(dtype="float64")
        position = {column: i for i, column in enumerate(members)}
        totals = np.column_stack(
            [
                np.nansum(counts[:, [position[c] for c in columns]], axis=1)
                for columns in interaction_groups.values()
            ]
        )
        derived |= {f"{g}_total": totals[:, i] for i, g in enumerate(interaction_groups)}
        derived["interactions_total"] = totals.sum(axis=1)
        derived["active_groups"] = (totals > 0).sum(axis=1).astype("float64")
    if timestamp:
        created = df[timestamp].to_numpy(dtype="datetime64[ns]")
        known = ~np.isnat(created)
        days = created.astype("datetime64[D]")
        parts = {
            "hour": (created - days).astype("timedelta64[h]").astype("int64"),
            "weekday": (days.astype("int64") + 3) % 7,  # 1970-01-01 was a Thursday; Monday is 0
            "month": created.astype("datetime64[M]").astype("int64") % 12 + 1,
        }
        derived |= {
            f"{timestamp}_{part}": np.where(known, parts[part], np.nan) for part in TIME_PARTS
        }
    return frame_of_columns(derived, df.index)


class LeadFeatures(TransformerMixin, BaseEstimator):
    """Stateless model step: `add_features`, then drop the raw timestamp (its parts stay)."""

    def __init__(
        self,
        interaction_groups: Mapping[str, Sequence[str]] | None = None,
        timestamp: str | None = None,
    ) -> None:
        self.interaction_groups = interaction_groups
        self.timestamp = timestamp

    def fit(self, X: pd.DataFrame, y: object = None) -> LeadFeatures:  # noqa: N803
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.n_features_in_ = X.shape[1]
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:  # noqa: N803
        derived = derived_features(X, self.interaction_groups or {}, self.timestamp)
        kept = [column for column in X.columns if column != self.timestamp]
        return pd.concat([select_columns(X, kept), derived], axis=1)

    def get_feature_names_out(self, input_features: object = None) -> np.ndarray:
        kept = [c for c in self.feature_names_in_ if c != self.timestamp]
        return np.asarray(
            kept + derived_feature_names(self.interaction_groups or {}, self.timestamp),
            dtype=object,
        )


def levels_to_keep(values: pd.Series, coverage: float, max_levels: int) -> list[str]:
    """The most frequent levels that together cover `coverage` of rows (at most `max_levels`).

    Ties in frequency are broken by the level's name so the choice is deterministic.
    """
    counts = values.value_counts(dropna=False)
    order = sorted(counts.items(), key=lambda item: (-item[1], str(item[0])))
    shares = np.cumsum([c for _, c in order]) / max(len(values), 1)
    n_keep = len(order) if coverage >= 1.0 else int(np.searchsorted(shares, coverage - 1e-12) + 1)
    return [str(level) for level, _ in order[: min(n_keep, max_levels)]]


@lru_cache(maxsize=1024)
def collapsed_levels(levels: tuple[str, ...]) -> tuple[pd.CategoricalDtype, dict[str, int]]:
    """The categorical dtype of a column's collapsed levels (in order, without repeats) and each
    level's code: made once per column of a model, as making a dtype costs more than collapsing
    a served lead's value."""
    unique = list(dict.fromkeys(levels))
    return levels_dtype(*unique), {level: code for code, level in enumerate(unique)}


class RareLevelCollapser(TransformerMixin, BaseEstimator):
    """Map each categorical column's rare levels to `other` (and missing to `missing`).

    Fitted on the training split, it keeps the most frequent levels covering `coverage` of rows;
    anything else, including levels first seen at scoring time, becomes `other`. That keeps the
    encoders small and makes unseen categories harmless.
    """

    def __init__(
        self,
        coverage: float = 0.9,
        max_levels: int = 100,
        other: str = "others",
        missing: str = "missing",
    ) -> None:
        self.coverage = coverage
        self.max_levels = max_levels
        self.other = other
        self.missing = missing

    def text_of(self, value: Any) -> str:
        """A value as the collapser reads it: its text, or `missing`."""
        return self.missing if pd.isna(value) else str(value)

    def as_text(self, values: pd.Series) -> np.ndarray:
        """Each value as the collapser reads it (`text_of`)."""
        return each_distinct(groupable(values), self.text_of)

    def level_of(self, column: str, value: Any) -> str:
        """The level the model reads for `value` of `column`: its text if kept, else `other`."""
        text = self.text_of(value)
        return text if text in self.levels_[column] else self.other

    def _code_of(self, column: str, code: Mapping[str, int], value: Any) -> int:
        return code[self.level_of(column, value)]

    def fit(self, X: pd.DataFrame, y: object = None) -> RareLevelCollapser:  # noqa: N803
        if not 0.0 < self.coverage <= 1.0:
            raise ValueError(f"coverage must be in (0, 1], got {self.coverage}")
        if self.max_levels < 1:
            raise ValueError(f"max_levels must be >= 1, got {self.max_levels}")
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.n_features_in_ = X.shape[1]
        self.levels_ = {
            str(c): levels_to_keep(pd.Series(self.as_text(X[c])), self.coverage, self.max_levels)
            for c in X.columns
        }
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:  # noqa: N803
        """Each column's levels as a pandas categorical (the kept levels, then `other`): the
        encoder after it then reads each row's code instead of grouping the texts again."""
        check_is_fitted(self, "levels_")
        levels = {}
        for column, kept in self.levels_.items():
            dtype, code = collapsed_levels((*kept, self.other))
            # the normaliser's categoricals are read by their codes
            codes = each_distinct(groupable(X[column]), partial(self._code_of, column, code), int)
            levels[column] = pd.Categorical.from_codes(codes, dtype=dtype, validate=False)
        return pd.DataFrame(levels, index=X.index)

    def get_feature_names_out(self, input_features: object = None) -> np.ndarray:
        return self.feature_names_in_


class LevelCodes(TransformerMixin, BaseEstimator):
    """Each column's levels as codes 0..k-1 in sorted order, missing for a level not seen in fit.

    The codes scikit-learn's `OrdinalEncoder` gives (with unknown levels missing), each distinct
    level looked up once (`each_distinct`): `OrdinalEncoder` maps text levels one value at a time
    in Python, several times slower on a batch of leads. The tree families split on the codes
    natively.
    """

    def fit(self, X: pd.DataFrame, y: object = None) -> LevelCodes:  # noqa: N803
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.n_features_in_ = X.shape[1]
        self.categories_ = [np.asarray(sorted(X[c].dropna().unique()), dtype=object) for c in X]
        return self

    def transform(self, X: pd.DataFrame) -> np.ndarray:  # noqa: N803
        """The codes, stored column by column (see `column_major`). A categorical column (the
        collapser's) goes in as it is: `each_distinct` reads it by its codes."""
        check_is_fitted(self, "categories_")
        codes = np.empty((len(X), len(self.categories_)), order="F")
        for at, (name, levels) in enumerate(
            zip(self.feature_names_in_, self.categories_, strict=True)
        ):
            position = {level: i for i, level in enumerate(levels.tolist())}.get  # None: unseen
            codes[:, at] = each_distinct(groupable(X[name]), position, np.float64)
        return codes

    def get_feature_names_out(self, input_features: object = None) -> np.ndarray:
        return self.feature_names_in_


def column_major(X: pd.DataFrame | np.ndarray) -> np.ndarray:  # noqa: N803
    """`X` as a float matrix stored column by column, as a frame's columns already are.

    Every part of the encoded matrix is column-major so that joining them copies whole columns
    (a row-major join of a large batch costs most of encoding it); LightGBM reads either layout,
    and TreeSHAP reads the matrix feature by feature.
    """
    return np.asarray(X, dtype=np.float64, order="F")


class DirectColumnTransformer(ColumnTransformer):
    """scikit-learn's `ColumnTransformer`, whose `transform` of a frame calls the fitted parts
    directly and joins their matrices.

    The parent's `transform` checks the columns, routes metadata and dispatches each part through
    joblib, which costs as much per call as encoding one served lead. Fitting, the fitted parts and
    their names (what the reasons and the training summary read) stay scikit-learn's; anything
    but parts named by lists of columns of a frame that give arrays takes the parent's path
    (sparse parts, `passthrough`, a frame output, ...).
    """

    def transform(self, X: pd.DataFrame, **params: Any) -> np.ndarray:  # noqa: N803
        check_is_fitted(self)
        parts = [(part, columns) for _, part, columns in self.transformers_ if part != "drop"]
        if (
            params
            or not isinstance(X, pd.DataFrame)
            or any(isinstance(part, str) or not isinstance(names, list) for part, names in parts)
        ):
            return super().transform(X, **params)
        # a part without columns is skipped (and left unfitted) by the parent too
        matrices = [part.transform(select_columns(X, names)) for part, names in parts if names]
        if not all(isinstance(matrix, np.ndarray) for matrix in matrices):  # sparse, frames
            return super().transform(X)  # (`set_output` reaches the parts too)
        return np.hstack(matrices)

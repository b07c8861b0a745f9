"""LightGBM's exact TreeSHAP values for a large batch, computed once per decision pattern.

A tree's (path-dependent) TreeSHAP values for a row depend only on which way the row goes at each
of the tree's splits, not on the values themselves: TreeSHAP follows every branch and weighs each
by whether the row takes it. So the rows of a batch are grouped, per tree, by their pattern of
decisions (LightGBM's split rules, `goes_left`), LightGBM computes the values of one row per
pattern with that tree alone (`pred_contrib` with `start_iteration`), and every row takes its
pattern's values. A tree with a few dozen leaves has at most a few hundred patterns, so a batch
costs the decisions plus a few hundred TreeSHAP rows per tree instead of one per row, an order of
magnitude less than `pred_contrib` over all rows. Summed tree by tree, the values equal LightGBM's
to the order of floating-point sums (tested to 1e-12 against `pred_contrib`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import lightgbm
import numpy as np

ZERO = 1e-35  # LightGBM's kZeroThreshold: |x| at or below it is zero for missing_type "Zero"
BATCH_ROWS = 5_000  # below this, pred_contrib over all rows is as fast


def contributions(booster: lightgbm.Booster, X: np.ndarray) -> np.ndarray:  # noqa: N803
    """`booster.predict(X, pred_contrib=True)`: per row, each feature's contribution to the raw
    score, then the base value (binary or regression models: one output).

    The tree-by-tree predictions run on a private copy of the booster: LightGBM keeps the range of
    trees a prediction uses in the booster itself, so on a shared one they would change what
    another thread's prediction with it reads."""
    if len(X) < BATCH_ROWS:
        return booster.predict(X, pred_contrib=True)
    own = lightgbm.Booster(model_str=booster.model_to_string())
    columns = np.ascontiguousarray(X.T, dtype=np.float64)  # one feature's values in a row
    zeroed = np.where(np.isnan(columns), 0.0, columns)  # as most splits read a missing value
    total = np.zeros((X.shape[1] + 1, len(X)))
    for number, tree in enumerate(own.dump_model()["tree_info"]):
        first, pattern = _patterns(tree["tree_structure"], columns, zeroed)
        values = own.predict(X[first], pred_contrib=True, start_iteration=number, num_iteration=1)
        by_feature = values.T.copy()  # a pattern's values gathered from contiguous memory
        for feature in np.flatnonzero(np.any(values != 0, axis=0)):
            total[feature] += by_feature[feature].take(pattern)
    return total.T


def _splits(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    if "split_index" in node:
        yield node
        yield from _splits(node["left_child"])
        yield from _splits(node["right_child"])


def _patterns(
    tree: dict[str, Any], columns: np.ndarray, zeroed: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Each row's decision pattern in the tree as a number 0..k-1, and one row of each pattern."""
    pattern = np.zeros(columns.shape[1], dtype=np.int64)
    for depth, node in enumerate(_splits(tree)):
        if depth and depth % 62 == 0:  # renumber before the pattern outgrows 64 bits
            pattern = np.unique(pattern, return_inverse=True)[1].astype(np.int64)
        feature = node["split_feature"]
        pattern <<= 1
        pattern |= goes_left(node, columns[feature], zeroed[feature])
    if pattern.max(initial=0) >= 1 << 20:
        _, first, code = np.unique(pattern, return_index=True, return_inverse=True)
        return first, code.reshape(-1)
    # a small range: counting is faster than sorting; any row of a pattern gives its values
    present = np.flatnonzero(np.bincount(pattern))
    number = np.zeros(present[-1] + 1, dtype=np.int64)
    number[present] = np.arange(len(present))
    code = number[pattern]
    first = np.zeros(len(present), dtype=np.int64)
    first[code] = np.arange(len(pattern))
    return first, code


def goes_left(node: dict[str, Any], x: np.ndarray, zeroed: np.ndarray | None = None) -> np.ndarray:
    """Whether each value goes to the left child of a split, by LightGBM's rules (tree.h:
    NumericalDecision, CategoricalDecision), for a node of `Booster.dump_model`; `zeroed` is `x`
    with missing values as 0, as a numerical split without a missing type reads them."""
    if node["decision_type"] == "==":  # categorical: listed codes go left; missing, negative right
        listed = np.array([int(c) for c in str(node["threshold"]).split("||")])
        lookup = np.zeros(listed.max() + 2, dtype=bool)  # its last entry stands for the rest
        lookup[listed] = True
        # missing as -1 (fmax skips NaN), the rest clipped to the lookup's ends, then truncated
        # as C++ casts to int
        code = np.clip(np.fmax(x, -1.0), -1.0, listed.max() + 1.0).astype(np.int64)
        return lookup[code]
    missing_type, threshold = node["missing_type"], node["threshold"]
    if missing_type == "NaN":  # NaN compares False: negating the other test sends it left
        return ~(x > threshold) if node["default_left"] else x <= threshold
    x = np.where(np.isnan(x), 0.0, x) if zeroed is None else zeroed
    if missing_type != "Zero":
        return x <= threshold
    return np.where(np.abs(x) <= ZERO, node["default_left"], x <= threshold)

import threading

import lightgbm
import numpy as np
import pytest

from leadsift.core import treeshap


def _data(rows: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Counts with zeros, a number with missing values, codes of a categorical (some missing)."""
    rng = np.random.default_rng(seed)
    counts = rng.poisson(2.0, size=(rows, 3)).astype(float)
    number = rng.normal(size=rows)
    number[rng.random(rows) < 0.1] = np.nan
    codes = rng.integers(0, 12, size=rows).astype(float)
    codes[rng.random(rows) < 0.05] = np.nan
    X = np.column_stack([counts, number, codes])  # noqa: N806
    logit = counts[:, 0] - counts[:, 1] + np.nan_to_num(number) + (codes % 3 == 0)
    return X, (rng.random(rows) < 1 / (1 + np.exp(-logit + 1))).astype(int)


@pytest.mark.parametrize(
    "settings",
    [
        {"num_leaves": 9},  # small trees: decision patterns counted
        {"num_leaves": 100, "min_data_in_leaf": 5},  # > 62 splits: patterns renumbered, sorted
        {"num_leaves": 15, "zero_as_missing": True},  # missing_type Zero
    ],
)
def test_batch_values_are_lightgbms_own_treeshap(settings):
    X, y = _data(8000, seed=1)  # noqa: N806
    params = {"objective": "binary", "verbose": -1, "seed": 0, "categorical_column": [4]}
    booster = lightgbm.train(params | settings, lightgbm.Dataset(X, y), num_boost_round=30)
    later, _ = _data(treeshap.BATCH_ROWS + 1000, seed=2)
    later[:50, 4] = 40.0  # a code never seen in training
    later[50:60, 4] = -1.0
    later[60:65, 4] = -0.5  # read as code 0
    later[65:70, 4] = 2.7  # read as code 2
    later[70:80, :3] = np.nan
    found = treeshap.contributions(booster, later)
    np.testing.assert_allclose(found, booster.predict(later, pred_contrib=True), rtol=0, atol=1e-12)
    np.testing.assert_allclose(
        found.sum(axis=1), booster.predict(later, raw_score=True), rtol=0, atol=1e-9
    )


@pytest.mark.parametrize(
    ("missing_type", "default_left", "expected"),
    [
        ("None", False, [True, True, True, False, False]),  # missing read as 0
        ("NaN", False, [False, True, True, False, False]),
        ("Zero", False, [False, False, False, False, False]),  # 0 and tiny are missing
        ("NaN", True, [True, True, True, False, False]),
        ("Zero", True, [True, True, True, False, False]),
    ],
)
def test_goes_left_follows_lightgbms_rules_for_missing_values(missing_type, default_left, expected):
    x = np.array([np.nan, 0.0, 1e-40, 2.0, 5.0])
    node = {"decision_type": "<=", "threshold": 1.5, "default_left": default_left}
    assert treeshap.goes_left(node | {"missing_type": missing_type}, x).tolist() == expected


def test_goes_left_follows_lightgbms_rules_for_categorical_codes():
    categorical = {"decision_type": "==", "threshold": "0||5", "missing_type": "NaN"}
    codes = np.array([np.nan, 0.0, -1.0, 5.0, 3.0, -0.5, 5.9, 1e30, -1e30, 6.0])
    assert treeshap.goes_left(categorical, codes).tolist() == [
        False, True, False, True, False, True, True, False, False, False,
    ]  # fmt: skip


def test_a_batchs_values_leave_another_threads_predictions_with_the_model_alone():
    X, y = _data(8000, seed=1)  # noqa: N806
    params = {"objective": "binary", "verbose": -1, "seed": 0, "num_leaves": 9}
    booster = lightgbm.train(params, lightgbm.Dataset(X, y), num_boost_round=60)
    batch, _ = _data(treeshap.BATCH_ROWS + 1000, seed=2)
    leads, _ = _data(20_000, seed=3)
    expected = booster.predict(leads)
    done = threading.Event()

    def explain_until_done() -> None:
        while not done.is_set():
            treeshap.contributions(booster, batch)  # tree by tree, one tree per prediction

    explaining = threading.Thread(target=explain_until_done)
    explaining.start()
    try:
        # on a shared booster, each of these read the one tree the other thread had asked for
        differed = sum(not np.array_equal(booster.predict(leads), expected) for _ in range(20))
    finally:
        done.set()
        explaining.join()
    assert differed == 0

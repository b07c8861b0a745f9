"""Judging the click model on a whole day in bounded memory: the metrics equal scikit-learn's,
ties included, and the truth read beside the features must hold exactly the same clicks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score

from leadsift.clicks import engine
from leadsift.clicks.evaluation import quality, scored_days
from leadsift.clicks.features import day_name


@pytest.mark.parametrize("decimals", [2, 6])  # many tied scores, then almost none
def test_quality_equals_scikit_learns_metrics(decimals):
    rng = np.random.default_rng(decimals)
    score = np.round(rng.beta(0.5, 20, 200_000), decimals)
    y = (rng.random(len(score)) < score * 3).astype(np.int8)
    got = quality(y, score)
    clipped = np.clip(score, 1e-15, 1 - 1e-15)
    assert got["roc_auc"] == pytest.approx(roc_auc_score(y, score), rel=1e-12)
    assert got["pr_auc"] == pytest.approx(average_precision_score(y, score), rel=1e-12)
    assert got["log_loss"] == pytest.approx(log_loss(y, clipped, labels=[0, 1]), rel=1e-9)
    assert got["brier"] == pytest.approx(brier_score_loss(y, score), rel=1e-12)
    assert got["predicted_installs"] == pytest.approx(score.sum())


class HalfOfX:
    """A model answering x / 2: enough to see which clicks were scored, in which order."""

    features = ("x",)

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        p = frame["x"].to_numpy() / 2
        return np.column_stack([1 - p, p])


def write_day(tmp_path: Path, n: int) -> tuple[str, Path]:
    ids = np.arange(n) * 3
    features = tmp_path / "features.parquet"
    pq.write_table(
        pa.table(
            {
                "click_id": np.concatenate([ids, ids[-1] + 1 + np.arange(10)]),
                "day": np.repeat([1, 2], [n, 10]),
                "x": np.linspace(0, 1, n + 10),
                "channel": np.full(n + 10, 7, np.int32),
                "app": np.full(n + 10, 3, np.int32),
                "is_attributed": np.arange(n + 10) % 5 == 0,
            }
        ),
        features,
    )
    truth = tmp_path / "truth"
    truth.mkdir()
    return engine.parquet_source([features]), truth


def write_truth(truth: Path, ids: np.ndarray) -> None:
    pq.write_table(
        pa.table({"click_id": ids, "p_true": ids / 1e6}), truth / f"{day_name(1)}.parquet"
    )


@pytest.fixture
def connection(tmp_path: Path):
    with engine.connect(engine.EngineSettings("1GB", str(tmp_path / "spill"), 1)) as conn:
        yield conn


def test_a_day_is_scored_in_click_order_beside_its_own_truth(connection, tmp_path):
    n = engine.BATCH_ROWS + 1_000  # two blocks
    features, truth = write_day(tmp_path, n)
    write_truth(truth, np.arange(n) * 3)
    scored = scored_days(connection, HalfOfX(), features, [1], truth)
    assert np.array_equal(scored.score, np.linspace(0, 1, n + 10)[:n] / 2)
    assert np.array_equal(scored.truth, np.arange(n) * 3 / 1e6)
    assert np.array_equal(scored.y, (np.arange(n) % 5 == 0).astype(np.int8))
    assert scored.sources["channel"].eq(7).all() and len(scored.sources) == n


@pytest.mark.parametrize(
    "change",
    [lambda ids: ids + (ids == ids[-1]), lambda ids: ids[:-1], lambda ids: np.append(ids, 10**9)],
    ids=["another click", "a click missing", "a click more"],
)
def test_a_truth_holding_other_clicks_than_the_features_is_refused(connection, tmp_path, change):
    n = 1_000
    features, truth = write_day(tmp_path, n)
    write_truth(truth, change(np.arange(n) * 3))
    with pytest.raises(ValueError, match=r"truth holds other clicks.*dvc repro clicks_features"):
        scored_days(connection, HalfOfX(), features, [1], truth)

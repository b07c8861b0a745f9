"""The click model and what it learns from: the down-sampling correction, a model fitted on a
down-sample predicting the full log's installs, the engine's bags and its pseudo-random draw,
the split of days, a saved model that loads and answers the same, and the served model's answer
and the rows it refuses."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from scipy.optimize import brentq
from scipy.special import expit
from scipy.stats import chisquare
from sklearn.metrics import roc_auc_score

from leadsift.clicks import engine
from leadsift.clicks.features import feature_names
from leadsift.clicks.model import (
    TRUSTED_TYPES,
    ClickModel,
    ClickScorer,
    corrected,
    feature_problems,
)
from leadsift.clicks.training import sample_sql, split_days, unit_sql
from leadsift.core.io import InputError
from leadsift.core.model_store import load_model, save_model
from leadsift.core.scoring_protocol import Limits, answer

FEATURES = ["x1", "x2", "level"]
LEVEL_EFFECT = np.array([-1.0, -0.5, 0.0, 0.3, 0.6, 1.0, 1.4, -0.2])
PARAMS = {
    "n_estimators": 120, "learning_rate": 0.05, "num_leaves": 8, "min_child_samples": 200,
    "n_jobs": 1, "deterministic": True, "force_col_wise": True, "verbose": -1,
}  # fmt: skip
RATE, BAGS = 0.02, 2


def linear(x: pd.DataFrame) -> np.ndarray:
    return 1.2 * x["x1"] - 1.5 * x["x2"] + LEVEL_EFFECT[x["level"]]


# the intercept that makes the mean probability 1% (over the features' distribution)
_REFERENCE = linear(
    pd.DataFrame(
        {
            "x1": np.random.default_rng(0).normal(size=400_000),
            "x2": np.random.default_rng(1).random(400_000),
            "level": np.random.default_rng(2).integers(0, len(LEVEL_EFFECT), 400_000),
        }
    )
)
INTERCEPT = brentq(lambda b: expit(_REFERENCE + b).mean() - 0.01, -20, 5)


def clicks(n: int, seed: int, first_id: int = 0, days: int = 1) -> pd.DataFrame:
    """`n` clicks with a known logistic truth `p_true` (1% mean) and labels drawn from it."""
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        {
            "click_id": np.arange(first_id, first_id + n, dtype=np.int64),
            "day": np.repeat(np.arange(days), -(-n // days))[:n].astype(np.int32),
            "x1": rng.normal(size=n),
            "x2": rng.random(n),
            "level": rng.integers(0, len(LEVEL_EFFECT), n),
        }
    )
    df["p_true"] = expit(INTERCEPT + linear(df))
    df["is_attributed"] = (rng.random(n) < df["p_true"]).astype(np.int8)
    return df


def draw_sample(df: pd.DataFrame, tmp_path: Path, days, **draw) -> pd.DataFrame:
    """`sample_sql` run by the engine over `df` written as Parquet."""
    path = tmp_path / "features.parquet"
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), path)
    with engine.connect(engine.EngineSettings("1GB", str(tmp_path / "spill"), 1)) as connection:
        query = sample_sql(engine.parquet_source([path]), FEATURES, days, **draw)
        return connection.execute(query).df()


def units(ids: np.ndarray, seed: int) -> np.ndarray:
    """unit_sql's rule in Python."""
    return ((ids.astype(object) + seed) * 2_654_435_761 % 2**32).astype(float) / 2**32


# ---------------------------------------------------------------- the correction


def test_corrected_is_the_full_logs_probability_and_keeps_roc_auc():
    rng = np.random.default_rng(3)
    p = rng.random(20_000)
    y = (rng.random(20_000) < p).astype(int)
    for rate in (0.001, 0.02, 0.5, 1.0):
        q = corrected(p, rate)
        np.testing.assert_allclose(q, p / (p + (1 - p) / rate), rtol=1e-12)
        np.testing.assert_allclose(q / (1 - q), rate * p / (1 - p), rtol=1e-9)  # odds times w
        assert roc_auc_score(y, q) == pytest.approx(roc_auc_score(y, p), abs=1e-12)
        assert np.all(np.diff(q[np.argsort(p)]) >= 0)
    assert corrected(np.array([0.0, 1.0]), 0.02).tolist() == [0.0, 1.0]
    np.testing.assert_array_equal(corrected(p, 1.0), p)
    assert corrected(np.array([0.5]), 0.02)[0] == pytest.approx(0.02 / 1.02)


# ---------------------------------------------------------------- a model on a down-sample


@pytest.fixture(scope="module")
def fitted(tmp_path_factory: pytest.TempPathFactory) -> tuple[ClickModel, pd.DataFrame]:
    """A ClickModel of two bags fitted on the engine's down-sample of 300,000 clicks."""
    train = clicks(300_000, seed=10)
    sample = draw_sample(
        train, tmp_path_factory.mktemp("sample"), [0], negative_rate=RATE, n_bags=BAGS, seed=7
    )
    model = ClickModel(features=FEATURES, negative_rate=RATE, n_bags=BAGS, params=PARAMS, seed=3)
    model.fit(sample, sample["is_attributed"].to_numpy(), bag=sample["bag"].to_numpy())
    return model, sample


def test_a_model_fitted_on_a_down_sample_predicts_the_full_logs_installs(fitted):
    model, sample = fitted
    y = sample["is_attributed"].to_numpy()
    assert 2500 < y.sum() < 3500 and 0.8 < (1 - y).sum() / (300_000 * RATE * BAGS) < 1.2
    # the offset makes the sample's predicted installs, each negative standing for 1 / (w bags)
    # clicks, equal its positives
    q = model.predict_proba(sample)[:, 1]
    weight = np.where(y == 1, 1.0, 1.0 / (RATE * BAGS))
    assert (weight * q).sum() == pytest.approx(y.sum(), rel=1e-6)
    assert model.offset_ != 0.0 and abs(model.offset_) < 1.0
    # fresh clicks of the full log: the predicted total is the expected installs
    fresh = clicks(300_000, seed=11)
    predicted = model.predict_proba(fresh)[:, 1]
    expected = fresh["p_true"].sum()
    assert predicted.sum() == pytest.approx(expected, rel=0.05)
    assert roc_auc_score(fresh["is_attributed"], predicted) > 0.98 * roc_auc_score(
        fresh["is_attributed"], fresh["p_true"]
    )
    # without the correction the sample's rate would be read as the log's: ~1 / (2w) too many
    raw = np.mean([b.predict_proba(fresh[FEATURES])[:, 1] for b in model.boosters_], axis=0)
    assert raw.sum() > 10 * expected
    assert model.predict(fresh).tolist() == (predicted >= 0.5).astype(int).tolist()


@pytest.mark.filterwarnings("ignore:Hint. Inferred schema contains integer:UserWarning")
def test_a_saved_click_model_loads_and_predicts_identically(fitted, tmp_path):
    model, sample = fitted
    save_model(model, tmp_path / "model", sample[FEATURES].head(5), TRUSTED_TYPES)
    loaded = load_model(tmp_path / "model", TRUSTED_TYPES)
    assert isinstance(loaded, ClickModel) and loaded.offset_ == model.offset_
    fresh = clicks(5_000, seed=12)
    np.testing.assert_array_equal(loaded.predict_proba(fresh), model.predict_proba(fresh))


def test_the_served_model_answers_probability_and_flag_and_refuses_what_a_click_cannot_hold(
    fitted, tmp_path
):
    model, sample = fitted
    scorer = ClickScorer(model, threshold=0.01)
    save_model(scorer, tmp_path / "served", sample[FEATURES].head(5), TRUSTED_TYPES,
               predict_fn="predict", signature=False)  # fmt: skip
    served = load_model(tmp_path / "served", TRUSTED_TYPES)
    fresh = clicks(40, seed=13)[FEATURES]
    limits = Limits(max_request_bytes=100_000, max_records=50, read_timeout_s=2)

    def ask(rows: pd.DataFrame) -> tuple[int, object]:
        body = json.dumps({"dataframe_split": json.loads(rows.to_json(orient="split"))})
        reply = answer(served, body.encode(), "application/json", limits)
        return reply.status, json.loads(reply.body)

    status, body = ask(fresh)
    expected = model.predict_proba(fresh)[:, 1]
    assert status == 200 and len(body["predictions"]) == 40
    assert [r["probability"] for r in body["predictions"]] == pytest.approx(expected, rel=1e-12)
    assert [r["flagged"] for r in body["predictions"]] == (expected < 0.01).tolist()
    assert 0 < sum(r["flagged"] for r in body["predictions"]) < 40
    text = fresh.astype({"x1": object})
    text.loc[3, "x1"] = "many"
    status, body = ask(text)
    assert status == 400 and "row 3: x1 is not a finite number" in body["message"]
    status, body = ask(fresh.drop(columns="x2"))
    assert status == 400 and "missing column(s) ['x2']" in body["message"]
    status, body = ask(fresh.head(0))
    assert status == 400 and "send at least one" in body["message"]


def test_a_click_may_lack_only_a_gap_or_a_rate_and_no_count_is_negative():
    names = feature_names()
    rows = pd.DataFrame([dict.fromkeys(names, 1.0) for _ in range(6)])
    rows["rate_app"] = 0.01
    rows["gap_user_app"] = None  # a column of nulls: every click a user's first on its app
    rows.loc[1, "rate_channel"] = np.nan  # a channel's first day
    rows.loc[2, "n_ip_1h"] = np.nan
    rows.loc[3, "rate_app"] = 2.0
    rows.loc[4, "hour"] = -1
    rows = rows.astype({"channel": object})
    rows.loc[5, "channel"] = "ch-7"
    assert feature_problems(rows, names) == [
        "row 2: n_ip_1h is not a finite number",
        "row 3: rate_app above 1",
        "row 4: negative hour",
        "row 5: channel is not a finite number",
    ]
    assert feature_problems(rows.drop(columns=["hour"]), names) == [
        "every row: missing column(s) ['hour']"
    ]


# ---------------------------------------------------------------- the engine's draw


def test_bags_are_disjoint_in_negatives_and_share_every_positive(tmp_path):
    df = clicks(60_000, seed=20, first_id=1_000, days=3)
    labels = df["is_attributed"].astype("Int8")
    df["is_attributed"] = labels.mask(df["click_id"] % 97 == 0)  # unlabelled: never drawn
    rate, bags, seed = 0.05, 3, 11
    sample = draw_sample(df, tmp_path, [0, 2], negative_rate=rate, n_bags=bags, seed=seed)
    assert sample["click_id"].is_monotonic_increasing and sample["click_id"].is_unique
    days = df[df["day"].isin([0, 2]) & df["is_attributed"].notna()]
    positives = set(days.loc[days["is_attributed"] == 1, "click_id"])
    negatives = days[days["is_attributed"] == 0]
    drawn = negatives[units(negatives["click_id"].to_numpy(), seed) < rate * bags]
    # every positive of the days, bag -1; the negatives drawn by unit_sql's rule, each in one bag
    assert set(sample.loc[sample["bag"] == -1, "click_id"]) == positives
    assert (sample.loc[sample["bag"] == -1, "is_attributed"] == 1).all()
    assert set(sample.loc[sample["bag"] >= 0, "click_id"]) == set(drawn["click_id"])
    assert set(sample["bag"]) == {-1, *range(bags)}
    unit = units(sample["click_id"].to_numpy(), seed)
    negative = sample["bag"] >= 0
    assert (sample.loc[negative, "bag"] == np.floor(unit[negative] / rate)).all()
    # what each booster of ClickModel.fit sees
    rows = [set(sample.loc[(sample["bag"] == -1) | (sample["bag"] == b), "click_id"]) for b in
            range(bags)]  # fmt: skip
    for b in range(bags):
        assert positives <= rows[b]
        share = len(rows[b] - positives) / len(negatives)
        assert share == pytest.approx(rate, rel=0.1)
        for other in range(b + 1, bags):
            assert rows[b] & rows[other] == positives
    assert set(sample.columns) == {"click_id", *FEATURES, "is_attributed", "bag"}


def test_unit_is_uniform_over_consecutive_ids_and_the_same_every_run(tmp_path):
    def run(seed: int, first: int) -> np.ndarray:
        with engine.connect(engine.EngineSettings("1GB", str(tmp_path / "spill"), 2)) as c:
            ids = f"range({first}, {first + 100_000}) r(click_id)"
            query = f"SELECT {unit_sql(seed)} AS u FROM {ids} ORDER BY click_id"
            return c.execute(query).fetchnumpy()["u"]

    for seed, first in ((0, 0), (42, 184_903_890)):
        u = run(seed, first)
        assert np.array_equal(u, run(seed, first))  # another connection, the same numbers
        np.testing.assert_array_equal(u, units(np.arange(first, first + 100_000), seed))
        assert u.min() >= 0 and u.max() < 1
        counts = np.histogram(u, bins=50, range=(0, 1))[0]
        assert chisquare(counts).pvalue > 0.01
        assert counts.min() > 0.95 * 2000 and counts.max() < 1.05 * 2000
        assert (u[:1000] < 0.02).sum() == pytest.approx(20, abs=5)  # even over a few ids
    assert not np.array_equal(run(0, 0), run(1, 0))


# ---------------------------------------------------------------- the split of days


def test_split_days_in_order_and_refuses_too_few():
    settings = {"warmup_days": 1, "validation_days": 1, "test_days": 1}
    split = split_days([17481, 17479, 17483, 17480, 17482, 17478], settings)
    assert split.warmup == (17478,)
    assert split.train == (17479, 17480, 17481)
    assert split.validation == (17482,)
    assert split.test == (17483,)
    none = split_days([3, 1, 2], {"warmup_days": 0, "validation_days": 0, "test_days": 0})
    assert none.train == (1, 2, 3) and none.warmup == none.validation == none.test == ()
    with pytest.raises(InputError) as error:
        split_days([1, 2, 3], settings)
    message = str(error.value)
    assert "3 day(s)" in message
    assert "1 warm-up, 1 validation and 1 test day(s)" in message
    with pytest.raises(InputError, match="2 day"):
        split_days([1, 2], {"warmup_days": 0, "validation_days": 1, "test_days": 1})

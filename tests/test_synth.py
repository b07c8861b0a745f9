import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from leadsift.leads import synth
from leadsift.leads.synth import Dirt, Drift, generate_leads
from tests.conftest import WORLD_7

NO_DIRT = Dirt(**dict.fromkeys(Dirt.__dataclass_fields__, 0.0))


def draw(n=20_000, sample_seed=1, dirt=NO_DIRT, **kwargs):
    return generate_leads(n, **WORLD_7, sample_seed=sample_seed, dirt=dirt, **kwargs)


def test_same_seeds_give_identical_data(leads):
    export, truth = generate_leads(5000, **WORLD_7, sample_seed=1, dirt=Dirt())
    pd.testing.assert_frame_equal(export, leads[0])
    pd.testing.assert_frame_equal(truth, leads[1])


def test_another_sample_seed_gives_other_leads(leads_without_dirt):
    export, _ = draw(5000, sample_seed=2)
    assert not export[synth.INTERACTIONS].equals(leads_without_dirt[0][synth.INTERACTIONS])


def test_schema_matches_the_crm_export(leads_without_dirt):
    export, truth = leads_without_dirt
    assert list(export.columns[:8]) == [
        synth.ID,
        synth.TIMESTAMP,
        *synth.CATEGORICAL,
        *synth.OTHER_NUMERIC,
    ]
    assert export.columns[-1] == synth.TARGET
    assert 35 <= len(synth.INTERACTIONS) <= 40
    assert set(synth.INTERACTION_GROUPS) == {"assistance", "career", "payment", "syllabus"}
    assert export[synth.ID].is_unique and list(truth[synth.ID]) == list(export[synth.ID])
    assert set(export[synth.TARGET]) == {0, 1}
    assert pd.to_datetime(export[synth.TIMESTAMP]).between("2025-01-01", "2026-01-01").all()
    assert (export[synth.COUNT_COLUMNS] >= 0).all().all()
    assert truth["p_true"].between(0, 1).all()


def test_params_yaml_declares_the_generated_columns(roles):
    assert roles.interaction_groups == {g: tuple(c) for g, c in synth.INTERACTION_GROUPS.items()}
    assert list(roles.categorical) == synth.CATEGORICAL
    assert list(roles.numeric) == synth.OTHER_NUMERIC
    assert (roles.id, roles.timestamp, roles.target) == (synth.ID, synth.TIMESTAMP, synth.TARGET)


def test_params_yaml_aliases_undo_every_alias_spelling(params):
    aliases = params["leads_prepare"]["aliases"]["city"]
    assert {v.lower(): k.lower() for k, v in synth.CITY_ALIASES.items()} == aliases


def test_genuine_rate_and_labels_follow_p_true():
    export, truth = draw(40_000)
    assert export[synth.TARGET].mean() == pytest.approx(0.30, abs=0.015)
    assert truth["p_true"].mean() == pytest.approx(export[synth.TARGET].mean(), abs=0.01)
    # Labels drawn from p_true: calibrated in every decile of p_true.
    deciles = pd.qcut(truth["p_true"], 10, labels=False)
    by_decile = truth.groupby(deciles).agg(p=("p_true", "mean"), y=(synth.TARGET, "mean"))
    assert np.abs(by_decile["p"] - by_decile["y"]).max() < 0.03


def test_signal_is_strong_but_not_perfect():
    export, truth = draw(20_000)
    bayes = roc_auc_score(truth[synth.TARGET], truth["p_true"])
    assert 0.83 < bayes < 0.95
    # Non-linear on purpose: a linear score on the raw counts stays clearly below the ceiling.
    linear = roc_auc_score(truth[synth.TARGET], export[synth.INTERACTIONS].sum(axis=1))
    assert linear < bayes - 0.03


def test_cities_have_a_long_tail():
    export, _ = draw(40_000)
    shares = export["city"].value_counts(normalize=True)
    assert 250 <= len(shares) <= synth.N_CITIES
    top_needed = int((shares.cumsum() < 0.90).sum()) + 1
    assert 25 <= top_needed <= 60
    assert export["utm_source"].nunique() >= 40 and export["utm_medium"].nunique() >= 30


@pytest.mark.parametrize(
    ("field", "check"),
    [
        ("missing_source", lambda dirty, clean: dirty["utm_source"].isna().mean()),
        ("placeholders", lambda dirty, clean: (dirty["city"] == "Select").mean()),
        ("duplicate_rows", lambda dirty, clean: dirty.duplicated().sum() / len(clean)),
        (
            "negative_counts",
            lambda dirty, clean: (dirty[synth.COUNT_COLUMNS] < 0).any(axis=1).mean(),
        ),
        (
            "city_variants",
            lambda dirty, clean: (~dirty["city"].isin(synth.build_world(7, 0.3).cities)).mean(),
        ),
    ],
)
def test_each_kind_of_dirt_appears_at_its_rate(field, check):
    rate = 0.05
    dirt = Dirt(**{**dict.fromkeys(Dirt.__dataclass_fields__, 0.0), field: rate})
    clean, _ = draw(20_000)
    dirty, _ = draw(20_000, dirt=dirt)
    assert check(dirty, clean) == pytest.approx(rate, rel=0.15)
    assert check(clean, clean) == 0


def test_incoming_batch_without_drift_looks_like_training():
    train, _ = draw(20_000)
    batch, truth = draw(20_000, sample_seed=5, id_offset=20_000)
    assert batch[synth.ID].iloc[0] == "LD00020001"
    assert truth[synth.TARGET].mean() == pytest.approx(train[synth.TARGET].mean(), abs=0.02)
    assert set(batch["utm_source"]) <= set(train["utm_source"])


@pytest.mark.parametrize(
    ("drift", "measure", "direction"),
    [
        (
            Drift(new_sources=0.2),
            lambda b, t: b["utm_source"].str.startswith("new_campaign").mean(),
            0.2,
        ),
        (Drift(platform_shift=1.0), lambda b, t: b["platform"].isin(["android", "ios"]).mean(), +1),
        (Drift(count_inflation=0.5), lambda b, t: b[synth.INTERACTIONS].to_numpy().mean(), +1),
        (Drift(genuine_rate_shift=0.1), lambda b, t: t[synth.TARGET].mean(), +1),
    ],
)
def test_each_drift_knob_moves_the_batch(drift, measure, direction):
    base = measure(*draw(20_000, sample_seed=5))
    moved = measure(*draw(20_000, sample_seed=5, drift=drift))
    if direction == +1:
        assert moved > base * 1.1
    else:
        assert base == 0 and moved == pytest.approx(direction, abs=0.02)


def test_genuine_rate_shift_must_stay_a_probability():
    with pytest.raises(ValueError, match="genuine_rate_shift"):
        draw(100, drift=Drift(genuine_rate_shift=0.8))

import dataclasses

import numpy as np
import pandas as pd
import pytest

from leadsift.core.io import InputError
from leadsift.leads import synth
from leadsift.leads.cleaning import clean_leads
from leadsift.leads.scoring import clean_and_score, load_scoring_model, sales_view
from leadsift.leads.synth import Dirt, Drift, generate_leads
from tests.conftest import WORLD_7


@pytest.fixture(scope="module")
def model_dir(saved_sales):
    return saved_sales[1]


def incoming_batch(**drift):
    batch, truth = generate_leads(
        3000, **WORLD_7, sample_seed=9, dirt=Dirt(), drift=Drift(**drift), id_offset=5000
    )
    return batch.drop(columns=synth.TARGET), truth


def test_a_dirty_drifted_batch_is_scored_and_every_row_accounted_for(model_dir, roles, cleaning):
    batch, _ = incoming_batch(new_sources=0.3, platform_shift=0.5)
    model, version = load_scoring_model(str(model_dir))
    result, scored = clean_and_score(
        model, batch, roles, source="batch.csv", model_version=version, **cleaning
    )
    counts = result.counts
    assert (
        counts["rows_in"]
        == len(batch)
        == counts["rows_clean"] + counts["rows_duplicate"] + counts["rows_quarantined"]
    )
    assert roles.target not in result.clean.columns
    assert len(scored) == counts["rows_clean"]
    assert scored["lead_score"].between(0, 100).all()
    assert (scored["is_junk"] == (scored["probability"] < 0.2)).all()
    expected = np.select(
        [scored["probability"] >= 0.6, scored["probability"] >= 0.2], ["A", "B"], "C"
    )
    assert (scored["tier"] == expected).all() and set(expected) == {"A", "B", "C"}
    assert scored["utm_source"].str.startswith("new_campaign").mean() > 0.2  # unseen levels scored
    # the reason texts are pandas strings, as the other texts: parquet stores them alike
    why = [f"{d}_{i}" for d in ("raises", "lowers") for i in (1, 2, 3)]
    assert all(isinstance(scored[c].dtype, pd.StringDtype) for c in [*why, "model_version"])
    assert version.startswith(f"{model_dir}@") and len(version.split("@")[1]) == 12


def test_sales_file_has_the_agreed_columns_best_first(model_dir, roles, cleaning):
    batch, _ = incoming_batch()
    model, version = load_scoring_model(str(model_dir))
    _, scored = clean_and_score(model, batch, roles, source="b", model_version=version, **cleaning)
    sales = sales_view(scored, roles)
    why = [f"{d}_{i}" for d in ("raises", "lowers") for i in (1, 2, 3)]
    first = [roles.id_column, "lead_score", "tier", "is_junk"]
    assert list(sales.columns) == [*first, *why, "model_version"]
    ups = sales["raises_1"][sales["raises_1"] != ""]  # empty when nothing raised the score
    assert len(ups) > 0.9 * len(sales) and ups.str.contains(r" = .* \(\+\d+\.\d\d\)$").all()
    assert sales["lead_score"].is_monotonic_decreasing
    assert sales[roles.id_column].is_unique


def test_scores_rank_the_batch_like_the_truth(model_dir, roles, cleaning):
    batch, truth = incoming_batch()
    model, version = load_scoring_model(str(model_dir))
    _, scored = clean_and_score(model, batch, roles, source="b", model_version=version, **cleaning)
    merged = scored.merge(truth, on=roles.id)
    assert np.corrcoef(merged["probability"], merged["p_true"])[0, 1] > 0.7


@pytest.mark.parametrize("with_reasons", [True, False])
@pytest.mark.parametrize("with_ids", [True, False])
def test_cleaning_beside_scoring_answers_the_clean_rows_as_scoring_them_alone(
    model_dir, roles, cleaning, with_reasons, with_ids
):
    """The model answers every row while the contract checks them; the clean rows keep the answers
    they get scored alone, and the cleaning is `clean_leads`' own (with row numbers for ids)."""
    batch, _ = incoming_batch(new_sources=0.3)
    if not with_ids:
        roles, batch = dataclasses.replace(roles, id=None), batch.drop(columns=roles.id)
    model, _ = load_scoring_model(str(model_dir))
    options = dict(source="b", **cleaning)
    cleaned, scored = clean_and_score(
        model, batch, roles, model_version="v", with_reasons=with_reasons, **options
    )
    expected = clean_leads(batch, roles, labelled=False, **options)
    assert cleaned.counts == expected.counts and cleaned.counts["rows_duplicate"] > 0
    assert cleaned.counts["rows_quarantined"] > 0
    pd.testing.assert_frame_equal(cleaned.quarantine, expected.quarantine)
    alone = model.answer(expected.clean[roles.model_inputs], with_reasons=with_reasons)
    pd.testing.assert_frame_equal(
        scored, pd.concat([expected.clean, alone], axis=1).assign(model_version="v")
    )


def test_a_batch_that_cannot_be_cleaned_fails_with_cleanings_error(model_dir, roles, cleaning):
    batch, _ = incoming_batch()
    batch[roles.count_columns[0]] = -1  # every row breaks the contract
    model, _ = load_scoring_model(str(model_dir))
    with pytest.raises(InputError, match=r"b: all \d+ rows are quarantined"):
        clean_and_score(model, batch, roles, source="b", model_version="v", **cleaning)


def test_scoring_refuses_a_bare_pipeline_without_tiers(saved_model):
    with pytest.raises(
        InputError, match="not a sales model with its tiers; point it at models/sales"
    ):
        load_scoring_model(str(saved_model[1]))

"""The sales model: one answer per lead (score, tier, junk flag, reasons), refusing records that
break the contract, the same from the saved MLflow model as from the object that was saved."""

import io
import json

import numpy as np
import pandas as pd
import pytest

from leadsift.core import treeshap
from leadsift.core.contract import ContractBreachError, blank
from leadsift.core.model_store import load_model
from leadsift.core.scoring_protocol import parse_request
from leadsift.leads import sales
from leadsift.leads.models import TRUSTED_TYPES
from leadsift.leads.schema import raw_records
from leadsift.leads.scoring import clean_and_score
from leadsift.leads.synth import TARGET, Dirt, generate_leads
from tests.conftest import TIERS, WORLD_7


@pytest.fixture(scope="module")
def records(prepared, roles):
    return raw_records(prepared, roles).head(400)


def test_the_answer_is_the_pipelines_probability_with_its_tier_and_reasons(saved_sales, records):
    scorer, _ = saved_sales
    answer = scorer.predict(records)
    why = [f"{d}_{i}" for d in ("raises", "lowers") for i in (1, 2, 3)]
    assert list(answer.columns) == ["probability", "lead_score", "tier", "is_junk", *why]
    np.testing.assert_array_equal(
        answer["probability"], scorer.pipeline.predict_proba(records)[:, 1]
    )
    assert (answer["tier"] == TIERS.assign(answer["probability"])).all()
    assert (answer["is_junk"] == (answer["probability"] < TIERS.cold_below)).all()
    assert set(answer["tier"]) == {"A", "B", "C"}
    np.testing.assert_array_equal(answer["lead_score"], np.round(100 * answer["probability"], 1))
    assert answer["raises_1"].str.contains(r" = .* \(\+\d+\.\d\d\)$").mean() > 0.9
    plain = scorer.answer(records, with_reasons=False)
    assert list(plain.columns) == ["probability", "lead_score", "tier", "is_junk"]
    pd.testing.assert_frame_equal(plain, answer[plain.columns])


def test_a_batch_larger_than_a_block_gets_the_answer_it_gets_at_once(
    saved_sales, records, monkeypatch
):
    scorer, _ = saved_sales
    batch = records.set_axis(records.index * 3)  # the answer keeps the batch's own index
    at_once = [scorer.answer(batch, with_reasons) for with_reasons in (True, False)]
    # 400 leads: ten full blocks and a short one, answered BLOCK_THREADS at a time
    monkeypatch.setattr(sales, "BLOCK_ROWS", 37)
    for with_reasons, expected in zip((True, False), at_once, strict=True):
        pd.testing.assert_frame_equal(scorer.answer(batch, with_reasons), expected)


def test_records_that_break_the_contract_are_refused_naming_row_and_column(
    saved_sales, records, roles
):
    scorer, _ = saved_sales
    count, flag = roles.count_columns[0], roles.flags[0]
    bad = records.head(4).reset_index(drop=True)
    bad.loc[1, count] = -3
    bad.loc[3, flag] = 7
    with pytest.raises(ContractBreachError) as refused:
        scorer.predict(bad)
    message = str(refused.value)
    assert f"row 1: negative {count}" in message and f"row 3: {flag} not 0 or 1" in message
    assert message.startswith("2 lead record(s) break the lead contract")
    with pytest.raises(ContractBreachError, match=r"every row: missing column\(s\) \['platform'\]"):
        scorer.predict(records.drop(columns="platform"))
    with pytest.raises(ContractBreachError, match="no lead records to score"):
        scorer.predict(records.head(0))
    # JSON can put a list or an object where a value belongs
    nested = records.head(3).reset_index(drop=True)
    nested[count] = pd.Series([0, 1, [1, 2]], dtype=object)
    nested["city"] = pd.Series(["pune", "pune", {"name": "pune"}], dtype=object)
    with pytest.raises(ContractBreachError) as refused:
        scorer.predict(nested)
    assert str(refused.value).startswith(
        f"1 lead record(s) break the lead contract and were not scored: row 2: city is a dict, "
        f"not one value; {count} is a list, not one value."
    )
    # the rows that meet it get the same answer alone
    fine = bad.drop(index=[1, 3])
    pd.testing.assert_frame_equal(scorer.predict(fine), scorer.answer(fine))


def test_the_saved_sales_model_answers_as_the_object_did(saved_sales, records):
    scorer, path = saved_sales
    loaded = load_model(path, TRUSTED_TYPES)
    assert (loaded.cold_below, loaded.hot_from, loaded.tier_names) == (0.2, 0.6, TIERS.names)
    pd.testing.assert_frame_equal(loaded.predict(records), scorer.predict(records))
    # the contract checks the input; the example still shows the columns
    assert "signature" not in (path / "MLmodel").read_text()
    assert (path / "serving_input_example.json").exists()
    # as JSON sends them: text, numbers and missing values, as the scoring server parses them
    some = records.head(20).reset_index(drop=True)
    expected = scorer.predict(some)
    for sent in (some, some.astype(str).where(some.notna(), None)):
        body = json.dumps({"dataframe_records": json.loads(sent.to_json(orient="records"))})
        parsed = parse_request(body.encode(), "application/json")
        pd.testing.assert_frame_equal(loaded.predict(parsed), expected)
    # the model's pinned environment has what its code imports
    pins = {p.partition("==")[0] for p in (path / "requirements.txt").read_text().split()}
    assert {"lightgbm", "mlflow", "skops"} <= pins


def test_unseen_categories_are_scored_as_others_and_the_reasons_say_so(saved_sales, records):
    _, path = saved_sales
    leads = records.head(200).assign(city="atlantis")
    answer = load_model(path, TRUSTED_TYPES).predict(leads)
    texts = answer.filter(regex="^(raises|lowers)_").to_numpy().ravel()
    cities = [t for t in texts if t.startswith("city = ")]
    assert answer["probability"].notna().all()
    assert cities and all(t.startswith("city = atlantis (scored as others) (") for t in cities)


def test_one_lead_at_a_time_gets_the_batch_answer_or_the_batch_quarantine_reason(
    saved_sales, roles, cleaning, monkeypatch, request
):
    """The served path (`predict`, one record per call) and batch scoring (clean, quarantine,
    `answer`) share one implementation: on dirty leads, each lead gets the same probability and
    reasons alone as in the batch, or is refused with the reasons the batch quarantines it with.
    Only the id's own rules need the other rows (missing, repeated with other content): leads
    breaking those are left out, all other dirt stays in."""
    scorer, _ = saved_sales
    wanted = request.config.getoption("--leads-one-at-a-time")
    export, _ = generate_leads(wanted + wanted // 10, **WORLD_7, sample_seed=3, dirt=Dirt())
    raw = pd.read_csv(io.StringIO(export.drop(columns=TARGET).to_csv(index=False)), dtype=str)
    # more of what breaks the contract than the export's own dirt: every 20th lead, in turn
    count, flag, number = roles.count_columns[0], roles.flags[0], roles.numeric_inputs[-1]
    spoil = [
        (count, "-2"),
        (flag, "7"),
        (number, "many"),
        (roles.timestamp, "soon"),
        (count, "inf"),
    ]
    for k, row in enumerate(range(7, len(raw), 20)):
        column, value = spoil[k % len(spoil)]
        raw.loc[row, column] = value
    ids = raw[roles.id]
    clash = ids.duplicated(keep=False) & ~raw.duplicated(keep=False)
    raw = raw[~blank(ids) & ~ids.isin(ids[clash])].head(wanted)
    assert len(raw) == wanted
    monkeypatch.setattr(treeshap, "BATCH_ROWS", 100)  # the batch's TreeSHAP as a large batch's
    batch, scored = clean_and_score(
        scorer, raw, roles, source="b", model_version="batch", **cleaning
    )
    answers = scored.drop(columns=[*batch.clean, "model_version"]).set_axis(batch.clean[roles.id])
    refused = batch.quarantine.set_index(roles.id)["reason"]
    alone, refusals = [], []
    for position in range(len(raw)):
        record = raw.iloc[[position]]
        try:
            alone.append(scorer.predict(record).set_axis(record[roles.id]))
        except ContractBreachError as error:
            refusals.append((record[roles.id].iloc[0], str(error).split("row 0: ", 1)[1]))
    assert sorted(lead for lead, _ in refusals) == sorted(refused.index)
    assert len(refusals) >= len(raw) // 20
    for lead, message in refusals:
        assert message.startswith(refused[lead] + ". "), lead
    answered = pd.concat(alone)  # exact duplicates are answered each time
    pd.testing.assert_frame_equal(answered, answers.loc[answered.index])

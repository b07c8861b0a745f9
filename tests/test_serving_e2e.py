"""MLflow's scoring server, started the way `make serve` starts it, answering over loopback."""

from __future__ import annotations

import os

import numpy as np
import pytest

from leadsift.leads import synth
from leadsift.leads.synth import Dirt, generate_leads
from tests.conftest import ROOT, WORLD_7
from tests.server import post, serving

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def server(saved_model):
    pipeline, model_dir = saved_model
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    with serving(ROOT, "--model", str(model_dir), env=env) as base:
        yield base, pipeline


def test_raw_incoming_records_get_probabilities(server, roles):
    base, pipeline = server
    batch, _ = generate_leads(5, **WORLD_7, sample_seed=4, dirt=Dirt(), id_offset=9000)
    csv_like = batch.drop(columns=synth.TARGET).astype(str)  # as read from the incoming CSV
    status, body = post(f"{base}/invocations", {"dataframe_records": csv_like.to_dict("records")})
    assert status == 200
    probabilities = np.array(body["predictions"])
    assert probabilities.shape == (len(batch), 2)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0)
    expected = pipeline.predict_proba(batch[roles.model_inputs])
    np.testing.assert_allclose(probabilities, expected, rtol=1e-9)


@pytest.mark.parametrize(
    ("payload", "says"),
    [
        ({"dataframe_records": [{"city": "pune"}]}, "Failed to enforce schema"),  # columns missing
        ({"records": []}, "exactly one of the input fields"),
        ({"dataframe_split": {"columns": ["x"]}}, "must have 'data' field"),
        ({"dataframe_records": []}, "Failed to enforce schema"),  # an empty batch
    ],
)
def test_malformed_payloads_get_a_400_that_says_what_is_wrong(server, payload, says):
    status, body = post(f"{server[0]}/invocations", payload)
    assert status == 400
    assert says in body["message"]

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
    "payload",
    [
        {"dataframe_records": [{"city": "pune"}]},
        {"records": []},
        {"dataframe_split": {"columns": ["x"]}},
    ],
)
def test_malformed_payloads_get_a_4xx_with_a_message(server, payload):
    status, body = post(f"{server[0]}/invocations", payload)
    assert 400 <= status < 500
    assert body.get("message")


def test_an_empty_batch_is_answered_not_crashed(server):
    status, _ = post(f"{server[0]}/invocations", {"dataframe_records": []})
    assert status in {200, 400}

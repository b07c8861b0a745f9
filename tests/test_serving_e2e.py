"""MLflow's scoring server, started the way `make serve` starts it, answering over loopback."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from leadsift import synth
from leadsift.synth import Dirt, generate_leads
from tests.conftest import ROOT, WORLD_7

pytestmark = pytest.mark.e2e


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def post(url: str, body: object) -> tuple[int, dict]:
    request = urllib.request.Request(
        url, json.dumps(body).encode(), {"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.fixture(scope="module")
def server(saved_model):
    pipeline, model_dir = saved_model
    port = free_port()
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": str(ROOT / "src"),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "leadsift.serve", "--model", str(model_dir), "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{base}/ping", timeout=2) as response:
                if response.status == 200:
                    break
        except OSError:
            time.sleep(0.5)
        if process.poll() is not None:
            pytest.fail(f"server exited: {process.stderr.read().decode()[-2000:]}")
    else:
        pytest.fail("server did not answer /ping within 120 s")
    yield base, pipeline
    os.killpg(process.pid, signal.SIGTERM)  # stop it, and its workers, by its PID
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    assert process.returncode is not None


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

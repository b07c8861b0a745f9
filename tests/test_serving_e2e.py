"""The scoring server, started the way `make serve` starts it, answering over loopback: the sales
model's answer per lead, a 400 that names the column for a lead breaking the contract, and
concurrent clients' requests shared by both workers."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import psutil
import pytest

from leadsift.bench import post_concurrently
from leadsift.leads import synth
from leadsift.leads.cleaning import clean_leads
from leadsift.leads.synth import Dirt, generate_leads
from tests.conftest import ROOT, WORLD_7
from tests.server import post, serving

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def server(saved_sales):
    scorer, model_dir = saved_sales
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    with serving(ROOT, "--model", str(model_dir), env=env) as base:
        yield base, scorer


def clean_batch(roles, cleaning, n=8):
    """Incoming leads as read from the CSV (text), only rows that meet the contract."""
    batch, _ = generate_leads(4 * n, **WORLD_7, sample_seed=4, dirt=Dirt(), id_offset=9000)
    batch = batch.drop(columns=synth.TARGET)
    kept = clean_leads(batch, roles, source="b", labelled=False, **cleaning).clean[roles.id_column]
    return batch[batch[roles.id_column].isin(kept)].head(n)[roles.model_inputs].astype(str)


def test_raw_incoming_records_get_score_tier_and_reasons(server, roles, cleaning):
    base, scorer = server
    csv_like = clean_batch(roles, cleaning)
    status, body = post(f"{base}/invocations", {"dataframe_records": csv_like.to_dict("records")})
    assert status == 200
    served = pd.DataFrame(body["predictions"])
    expected = scorer.predict(csv_like.reset_index(drop=True))
    assert list(served.columns) == list(expected.columns)
    np.testing.assert_allclose(served["probability"], expected["probability"], rtol=1e-12)
    for column in ("lead_score", "tier", "is_junk", "raises_1", "lowers_1"):
        assert served[column].tolist() == expected[column].tolist()
    assert served["raises_1"].str.contains(r" = .* \(\+\d+\.\d\d\)$").all()


def test_a_lead_breaking_the_contract_gets_a_400_naming_the_column(server, roles, cleaning):
    csv_like = clean_batch(roles, cleaning, n=2)
    count = roles.count_columns[0]
    csv_like.iloc[1, csv_like.columns.get_loc(count)] = "-2"
    status, body = post(
        f"{server[0]}/invocations", {"dataframe_records": csv_like.to_dict("records")}
    )
    assert status == 400
    assert f"row 1: negative {count}" in body["message"] and "row 0" not in body["message"]


@pytest.mark.parametrize(
    ("payload", "says"),
    [
        ({"dataframe_records": [{"city": "pune"}]}, "every row: missing column(s) ['platform'"),
        ({"records": []}, "exactly one of the input fields"),
        ({"dataframe_split": {"columns": ["x"]}}, "must have 'data' field"),
        ({"dataframe_records": []}, "no lead records to score"),
    ],
)
def test_malformed_payloads_get_a_400_that_says_what_is_wrong(server, payload, says):
    status, body = post(f"{server[0]}/invocations", payload)
    assert status == 400
    assert says in body["message"]


def test_concurrent_clients_are_shared_by_both_workers(server, roles, cleaning):
    """Four clients, each on its own keep-alive connection, as a CRM's threads would send: both
    workers do a like share of the work (one that kept every connection it accepted would do
    most or all of it), and their OpenMP threads wait passively."""
    base, _ = server
    host, port = base.removeprefix("http://").split(":")
    bind = f"{host}:{port}"
    master = next(p for p in psutil.process_iter(["cmdline"]) if bind in (p.info["cmdline"] or []))
    workers = master.children()
    assert len(workers) == 2
    assert [w.environ().get("OMP_WAIT_POLICY") for w in workers] == ["passive", "passive"]
    leads = clean_batch(roles, cleaning).to_dict("records")

    def busy() -> list[float]:
        return [sum(w.cpu_times()[:2]) for w in workers]

    before = busy()
    done = post_concurrently(int(port), [leads * 2] * 4)
    used = [after - start for after, start in zip(busy(), before, strict=True)]
    assert [(len(times), errors) for times, errors in done] == [(2 * len(leads), 0)] * 4
    assert min(used) > 0.5 * max(used), used  # uvicorn's workers: 0 and 2.8 s, 0.14 and 2.6 s

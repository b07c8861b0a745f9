"""The scoring server, started the way `make serve` starts it, answering over loopback: the sales
model's answer per lead, a 400 that names the column for a lead breaking the contract, concurrent
clients' requests shared by both workers, slow clients that hold no worker, bodies past the limits,
the customers model's contract, a working copy moved after it was built, and the click scorer
answering raw clicks as the batch scored them, across a kill and restart."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import sqlite3

import numpy as np
import pandas as pd
import psutil
import pytest

from leadsift.bench import post_concurrently
from leadsift.clicks import engine
from leadsift.clicks.model import TRUSTED_TYPES as CLICK_TYPES
from leadsift.clicks.online import ClickState
from leadsift.core.model_store import load_model
from leadsift.leads import synth
from leadsift.leads.cleaning import clean_leads
from leadsift.leads.synth import Dirt, generate_leads
from tests.conftest import ROOT, WORLD_7
from tests.repo import Repo
from tests.server import post, server_process, serving
from tests.test_clicks_online import raw_records

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
        ({"instances": [[1, 2]]}, "a list of records"),
        ({"dataframe_records": []}, "no lead records to score"),
    ],
)
def test_malformed_payloads_get_a_400_that_says_what_is_wrong(server, payload, says):
    status, body = post(f"{server[0]}/invocations", payload)
    assert status == 400
    assert says in body["message"] and set(body) == {"error_code", "message"}


def test_concurrent_clients_are_shared_by_both_workers(server, roles, cleaning):
    """Four clients, each on its own keep-alive connection, as a CRM's threads would send: both
    workers do a like share of the work (requests go to a free worker, whichever connection they
    came on), and their OpenMP threads wait passively."""
    base, _ = server
    port = base.rsplit(":", 1)[1]
    front = next(p for p in psutil.process_iter(["cmdline"]) if port in (p.info["cmdline"] or []))
    workers = [w for w in front.children() if "spawn_main" in " ".join(w.cmdline())]
    assert len(workers) == 2
    assert [w.environ().get("OMP_WAIT_POLICY") for w in workers] == ["passive", "passive"]
    leads = clean_batch(roles, cleaning).to_dict("records")

    def busy() -> list[float]:
        return [sum(w.cpu_times()[:2]) for w in workers]

    before = busy()
    done = post_concurrently(int(port), [leads * 2] * 4)
    used = [after - start for after, start in zip(busy(), before, strict=True)]
    assert [(len(times), errors) for times, errors in done] == [(2 * len(leads), 0)] * 4
    assert min(used) > 0.5 * max(used), used


def _stalled(port: int, declared: int) -> socket.socket:
    """A client that sends headers declaring `declared` body bytes, then one byte, then nothing."""
    sock = socket.create_connection(("127.0.0.1", port))
    sock.sendall(
        b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        + f"Content-Length: {declared}\r\n\r\n{{".encode()
    )
    return sock


def _answer(sock: socket.socket) -> str:
    """Everything the server sends until it closes the connection."""
    chunks = []
    while chunk := sock.recv(4096):
        chunks.append(chunk)
    sock.close()
    return b"".join(chunks).decode()


def test_slow_clients_hold_no_worker(server, roles, cleaning):
    """Four clients stall mid-body (two such clients held both sync workers for 80 s before):
    meanwhile every other request is answered, and the stalled ones get 408 in the end."""
    base, _ = server
    port = int(base.rsplit(":", 1)[1])
    stalled = [_stalled(port, 1000) for _ in range(4)]
    leads = clean_batch(roles, cleaning, n=4).to_dict("records")
    for lead in leads * 2:
        status, _ = post(f"{base}/invocations", {"dataframe_records": [lead]}, timeout=5)
        assert status == 200
    for sock in stalled:
        sock.settimeout(30)
        answer = _answer(sock)
        assert answer.startswith("HTTP/1.1 408") and "serve.read_timeout_s" in answer


def test_a_body_past_the_limit_is_refused_before_it_is_read(server):
    """A body declared larger than serve.max_request_bytes gets 413 at once, unread."""
    port = int(server[0].rsplit(":", 1)[1])
    sock = _stalled(port, 10**9)
    sock.settimeout(10)
    answer = _answer(sock)
    assert answer.startswith("HTTP/1.1 413") and "serve.max_request_bytes" in answer


def test_the_customers_champion_checks_summaries_and_a_moved_copy_still_serves(baseline, tmp_path):
    """A built repository, copied then moved (its MLflow store records absolute artifact
    paths): `make serve PIPELINE=customers` serves the champion from the new place, answers a
    summary with its segment and refuses an impossible one naming row and column."""
    copy = Repo.copy_of(baseline.repo, tmp_path / "copy")
    moved = tmp_path / "elsewhere" / "repo"
    moved.parent.mkdir()
    shutil.move(copy.path, moved)
    customers = pd.read_parquet(moved / "data/customers/processed/customers.parquet").head(3)
    env = {**copy.env, "PYTHONPATH": "src"}
    with serving(moved, "--pipeline", "customers", env=env) as base:
        records = json.loads(customers.to_json(orient="records"))
        status, body = post(f"{base}/invocations", {"dataframe_records": records})
        assert status == 200 and len(body["predictions"]) == 3
        records[1]["cancellation_rate"] = 7.0
        status, body = post(f"{base}/invocations", {"dataframe_records": records})
        assert status == 400
        assert "row 1: cancellation_rate above the units bought per order" in body["message"]
    with sqlite3.connect(moved / "mlflow.db") as db:
        locations = [row[0] for row in db.execute("select storage_location from model_versions")]
    assert locations and all(loc.startswith((moved / "mlartifacts").as_uri()) for loc in locations)
    with sqlite3.connect(baseline.repo.path / "mlflow.db") as db:
        kept = [row[0] for row in db.execute("select storage_location from model_versions")]
    assert all(str(baseline.repo.path) in loc for loc in kept)  # the original is untouched


def test_the_whole_test_day_replayed_online_equals_the_batch_features_and_scores(baseline):
    """A built repository's test day, every click in time order through the online scorer in
    micro-batches of 1,000 after a warm start from the log before it (what the served scorer
    does per request): every feature of every click equals clicks_features', and so does every
    probability of the registered model."""
    repo = baseline.repo
    features = pd.read_parquet(repo.path / "data/clicks/features.parquet")
    day = features.loc[features["is_attributed"].notna(), "day"].max()
    scorer = load_model(repo.path / "models/clicks", CLICK_TYPES)
    state = ClickState(max_lateness=3600)
    log = engine.parquet_source([repo.path / "data/clicks/interim/clicks.parquet"])
    with engine.connect(engine.EngineSettings("1GB", str(repo.path / ".engine"), 1)) as connection:
        state.warm(connection, log, until=int(day) * 86_400)
    prepared = pd.read_parquet(repo.path / "data/clicks/interim/clicks.parquet")
    clicks = prepared[prepared["t"] // 86_400 == day].sort_values(["t", "click_id"])
    names, rows = scorer.features, []
    for start in range(0, len(clicks), 1_000):
        part = clicks.iloc[start : start + 1_000]
        state.remember(part)
        rows.append(state.featurize(part).assign(click_id=part["click_id"].to_numpy()))
    replayed = pd.concat(rows).set_index("click_id")
    batch = features.set_index("click_id").loc[replayed.index]
    assert len(replayed) > 40_000 and day > features["day"].min()
    for name in names:
        np.testing.assert_array_equal(
            replayed[name].to_numpy(float), batch[name].to_numpy(float, na_value=np.nan), name
        )
    np.testing.assert_array_equal(
        scorer.answer(replayed[names])["probability"], scorer.answer(batch[names])["probability"]
    )


def raw_clicks(clicks: pd.DataFrame) -> list[dict]:
    """Prepared clicks as a request's records."""
    return raw_records(clicks).to_dict("records")


def test_the_clicks_server_answers_raw_clicks_as_the_batch_scored_them_across_a_kill(
    baseline, tmp_path
):
    """`make serve PIPELINE=clicks` on a built repository, warmed from the log before a later
    day: that day's first clicks, one per request then in batches, get the probabilities
    `clicks_score` gave them; killed (SIGKILL) halfway and restarted from the log of the clicks
    it had answered, it goes on with the same answers. A click that breaks the log's contract
    gets a 400 naming its row and reason."""
    repo = baseline.repo
    prepared = pd.read_parquet(repo.path / "data/clicks/interim/clicks.parquet")
    scored_file = sorted((repo.path / "data/clicks/scored").glob("*.parquet"))[0]
    scored = pd.read_parquet(scored_file).set_index("click_id")
    day = prepared["t"][prepared["click_id"].isin(scored.index)].min() // 86_400
    sent = prepared[prepared["t"] // 86_400 == day].sort_values(["t", "click_id"]).iloc[:400]
    env = {**repo.env, "PYTHONPATH": "src"}

    def answered(base: str, clicks: pd.DataFrame, size: int) -> list[float]:
        probabilities = []
        for start in range(0, len(clicks), size):
            records = raw_clicks(clicks.iloc[start : start + size])
            status, body = post(f"{base}/invocations", {"dataframe_records": records})
            assert status == 200, body
            assert [r["click_id"] for r in body["predictions"]] == [r["click_id"] for r in records]
            assert not any(r["late"] for r in body["predictions"])
            probabilities += [r["probability"] for r in body["predictions"]]
        return probabilities

    def log_before(clicks: pd.DataFrame) -> str:
        path = tmp_path / f"log{len(clicks)}.parquet"
        pd.concat([prepared[prepared["t"] // 86_400 < day], clicks]).to_parquet(path)
        return str(path)

    first, rest = sent.iloc[:200], sent.iloc[200:]
    with server_process(
        repo.path, "--pipeline", "clicks", "--log", log_before(sent.iloc[:0]), env=env
    ) as (base, process):
        got = answered(base, first.iloc[:100], 1) + answered(base, first.iloc[100:], 25)
        bad = raw_clicks(rest.iloc[:2])
        bad[1]["channel"], bad[1]["click_time"] = -3, "later"
        status, body = post(f"{base}/invocations", {"dataframe_records": bad})
        assert status == 400
        assert "row 1: negative channel; click_time not a time" in body["message"]
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    with serving(repo.path, "--pipeline", "clicks", "--log", log_before(first), env=env) as base:
        got += answered(base, rest, 1)
    assert got == scored.loc[sent["click_id"], "probability"].tolist()

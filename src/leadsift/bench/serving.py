"""Section `serving`: single-lead latency of `make serve`'s server (the sales model: score, tier
and reasons) over loopback, from one client and from eight at once.
"""

from __future__ import annotations

import http.client
import json
import math
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from leadsift.bench.harness import Bench, Result, check, env, log
from leadsift.bench.scoring import lead_batch
from leadsift.core.config import read_params

REQUESTS, CLIENTS, CONCURRENT_REQUESTS = 1000, 8, 2000  # as the targets state them


def free_port() -> int:
    """A loopback port nothing listens on now, for the server."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def post_record(connection: http.client.HTTPConnection, record: dict) -> tuple[float, int, dict]:
    """One record (a lead, a click) to /invocations: the latency in ms, the status, the answer."""
    body = json.dumps({"dataframe_records": [record]})
    start = time.perf_counter()
    connection.request("POST", "/invocations", body, {"Content-Type": "application/json"})
    response = connection.getresponse()
    answer = json.loads(response.read())
    return (time.perf_counter() - start) * 1000, response.status, answer


def post_concurrently(port: int, shares: list[list[dict]]) -> list[tuple[list[float], int]]:
    """Each share of leads sent to the server on `port`, one lead per request, by its own client
    thread on its own keep-alive connection, as a CRM's threads would send them; per client, the
    latencies in ms and the errors (a failed request, or an answer other than 200)."""
    from concurrent.futures import ThreadPoolExecutor  # noqa: PLC0415

    def client(share: list[dict]) -> tuple[list[float], int]:
        own = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        times, errors = [], 0
        for lead in share:
            try:
                elapsed, status, _ = post_record(own, lead)
            except (OSError, http.client.HTTPException, ValueError):
                errors, own = errors + 1, http.client.HTTPConnection("127.0.0.1", port)
                continue
            times.append(elapsed)
            errors += status != 200
        own.close()
        return times, errors

    with ThreadPoolExecutor(len(shares)) as executor:
        return list(executor.map(client, shares))


def wait_for_ping(port: int, server: subprocess.Popen, seconds: float = 120) -> None:
    """Until /ping answers 200; raise if the server dies or the deadline passes."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            connection.request("GET", "/ping")
            pong = connection.getresponse()
            pong.read()
            connection.close()
            if pong.status == 200:
                return
        except OSError:
            pass
        if time.monotonic() > deadline or server.poll() is not None:
            raise RuntimeError(f"the scoring server did not answer /ping with 200 in {seconds:g} s")
        time.sleep(0.5)


@contextmanager
def serving_process(
    command: list[str], cwd: Path, port: int, seconds: float = 120
) -> Iterator[None]:
    """`command` (a `leadsift.serve` on `port`) running in `cwd` until /ping answers, and
    stopped, with its workers, when the block ends."""
    server = subprocess.Popen(
        command, cwd=cwd, env=env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    try:
        wait_for_ping(port, server, seconds)
        yield
    finally:
        os.killpg(server.pid, 15)
        server.wait(timeout=30)


def _one_by_one(connection: http.client.HTTPConnection, leads: list[dict]) -> tuple[list, int]:
    """Each lead in its own request: the latencies in ms and how many answers gave reasons."""
    latencies, reasons = [], 0
    for lead in leads:
        elapsed, status, answer = post_record(connection, lead)
        if status != 200:
            raise RuntimeError(f"serving answered {status}: {answer}")
        latencies.append(elapsed)
        reasons += bool(answer["predictions"][0].get("raises_1"))
    return latencies, reasons


def run(bench: Bench) -> list[Result]:
    """Latency of single-lead requests to `make serve`'s server (the sales model: score, tier and
    reasons) over loopback, after a warm-up: one client (numbers as JSON numbers; then half as many
    with every value as text, as a CSV row or the documented curl sends them), then `CLIENTS`
    concurrent clients sharing `CONCURRENT_REQUESTS`. Each client keeps its connection open as a
    CRM's would; the server closes it after each answer, and the client reconnects. The leads
    come dirty from `leads_generate_incoming` and are cleaned as batch scoring cleans them, so
    each meets the contract and gets a 200."""
    from leadsift.leads.cleaning import clean_leads, cleaning_options  # noqa: PLC0415
    from leadsift.leads.schema import ColumnRoles, load_raw_table, raw_records  # noqa: PLC0415

    built = bench.built_copy()
    params = read_params(built)
    roles = ColumnRoles.from_params(params["leads"])
    (path,) = lead_batch(bench, 2 * (REQUESTS + CONCURRENT_REQUESTS)).glob("*.csv")
    batch = load_raw_table(path, roles, "leads_score.input", labelled=False)
    clean = clean_leads(
        batch, roles, **cleaning_options(params), source=str(path), labelled=False
    ).clean
    records = raw_records(clean, roles)
    leads = json.loads(records.to_json(orient="records"))
    # the same leads as text, as a CSV row or the documented curl sends them
    texts = json.loads(records.astype(str).where(records.notna(), None).to_json(orient="records"))
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "leadsift.serve",
        "--model",
        "models/sales",
        "--port",
        str(port),
    ]
    log(f"serving: {REQUESTS:,} leads from one client, then {CLIENTS} clients")
    with serving_process(command, built, port):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        _one_by_one(connection, leads[:50])  # warm-up
        latencies, reasons = _one_by_one(connection, leads[50 : REQUESTS + 50])
        text_latencies, _ = _one_by_one(connection, texts[: REQUESTS // 2])
        connection.close()

        pool = leads[REQUESTS + 50 : REQUESTS + 50 + CONCURRENT_REQUESTS]
        done = post_concurrently(port, [pool[k::CLIENTS] for k in range(CLIENTS)])
    p50, p99 = np.percentile(latencies, [50, 99])
    text50, text99 = np.percentile(text_latencies, [50, 99])
    together = [t for times, _ in done for t in times]
    errors = sum(e for _, e in done)
    c50, c99 = np.percentile(together, [50, 99]) if together else (math.nan, math.nan)
    return [
        check(
            "serving p99 latency",
            p99,
            p50_ms=round(p50, 2),
            requests=len(latencies),
            answers_with_reasons=reasons,
            leads_as_text_p50_ms=round(text50, 2),
            leads_as_text_p99_ms=round(text99, 2),
            leads_as_text_requests=len(text_latencies),
        ),
        check(
            "serving p99 latency, 8 concurrent clients",
            c99,
            also=errors == 0,
            p50_ms=round(float(c50), 2),
            requests=len(pool),
            errors=errors,
        ),
    ]

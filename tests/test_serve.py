"""`make serve`'s app and protocol: MLflow's scoring protocol for a model loaded through the trusted
loader, called as uvicorn calls the app (the server over loopback is in test_serving_e2e). Every
refusal is one 4xx with a message; no answer carries a stack trace."""

from __future__ import annotations

import asyncio
import json
from importlib.metadata import version

import numpy as np
import pandas as pd
import pytest

from leadsift.core.io import InputError
from leadsift.core.scoring_protocol import Limits, answer, parse_request
from leadsift.customers.segmentation import TRUSTED_TYPES as SEGMENTS
from leadsift.leads.models import TRUSTED_TYPES
from leadsift.leads.schema import raw_records
from leadsift.scoring_app import ScoringApp, Workers
from leadsift.serve import serve
from tests.server import free_port

LIMITS = Limits(max_request_bytes=200_000, max_records=50, read_timeout_s=2)


@pytest.fixture(scope="module")
def app(saved_sales):
    workers = Workers(saved_sales[1], TRUSTED_TYPES, LIMITS, 1)
    yield ScoringApp(workers)
    workers.close()


def call(app, method: str, path: str, body: bytes = b"", content_type: str = "application/json",
         *, chunks: int = 1, delay: float = 0.0):  # fmt: skip
    """The app's status, headers and body for one request, its body sent in `chunks` parts
    `delay` seconds apart."""
    sent: list[dict] = []
    size = max(1, -(-len(body) // chunks))
    parts = [body[i : i + size] for i in range(0, len(body), size)] or [b""]
    messages = [
        {"type": "http.request", "body": part, "more_body": i < len(parts) - 1}
        for i, part in enumerate(parts)
    ]

    async def receive():
        if delay:
            await asyncio.sleep(delay)
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    headers = [(b"content-type", content_type.encode())]
    if chunks == 1:
        headers.append((b"content-length", str(len(body)).encode()))
    scope = {"type": "http", "method": method, "path": path, "headers": headers}
    asyncio.run(app(scope, receive, send))
    start, content = sent[0], b"".join(m.get("body", b"") for m in sent[1:])
    head = {k.decode(): v.decode() for k, v in start["headers"]}
    assert head["content-length"] == str(len(content))
    return start["status"], head, content


def records_body(records) -> bytes:
    return json.dumps({"dataframe_split": json.loads(records.to_json(orient="split"))}).encode()


def test_ping_health_and_version_answer_as_mlflows_server(app):
    status, headers, content = call(app, "GET", "/ping")
    assert (status, headers["content-type"], content) == (200, "application/json", b"\n")
    assert call(app, "GET", "/health")[0] == 200
    assert call(app, "GET", "/version")[2].decode() == version("mlflow")


def test_unknown_paths_and_methods_are_refused(app):
    assert call(app, "GET", "/predict")[0] == 404
    status, headers, _ = call(app, "GET", "/invocations")
    assert status == 405 and headers["allow"] == "POST"


def test_invocations_answer_what_the_model_predicts_in_every_format(
    app, saved_sales, prepared, roles
):
    scorer = saved_sales[0]
    records = raw_records(prepared, roles).iloc[:6]
    status, headers, content = call(app, "POST", "/invocations", records_body(records))
    assert status == 200 and headers["content-type"] == "application/json"
    served = json.loads(content)["predictions"]
    expected = scorer.predict(records).reset_index(drop=True)
    assert [lead["probability"] for lead in served] == expected["probability"].tolist()
    assert [lead["lowers_1"] for lead in served] == expected["lowers_1"].tolist()
    as_records = json.loads(records.to_json(orient="records"))
    as_columns = {c: [r[c] for r in as_records] for c in records.columns}
    for body, kind in [
        (records.to_csv(index=False).encode(), "text/csv"),
        (json.dumps({"dataframe_records": as_records}).encode(), "application/json"),
        (json.dumps({"instances": as_records}).encode(), "application/json"),
        (json.dumps({"inputs": as_columns}).encode(), "application/json; charset=utf-8"),
    ]:
        status, _, content = call(app, "POST", "/invocations", body, kind)
        assert status == 200 and json.loads(content)["predictions"] == served, kind


@pytest.mark.parametrize(
    ("body", "content_type", "status", "says"),
    [
        (b"{}", "application/json; charset=latin-1", 415, "charset latin-1"),
        (b"<x/>", "application/xml", 415, "dataframe_split, dataframe_records, instances, inputs"),
        (b'{"records": []}', "application/json", 400, "exactly one of the input fields"),
        (b'{"dataframe_split": {"columns": ["x"]}}', "application/json", 400, "'data' field"),
        (b'{"instances": [[1, 2]]}', "application/json", 400, "a list of records"),
        (b'{"dataframe_records": []}', "application/json", 400, "no lead records to score"),
        (b"{not json", "application/json", 400, "not valid JSON"),
        (b"[" * 10_000 + b"]" * 10_000, "application/json", 400, "nests too deep"),
        (b'{"dataframe_records": [{"city": "pune"}]}', "application/json", 400, "missing column"),
    ],
)
def test_every_refusal_is_one_4xx_with_a_message_and_no_stack_trace(
    app, body, content_type, status, says
):
    got, _, content = call(app, "POST", "/invocations", body, content_type)
    answer_ = json.loads(content)
    assert got == status and says in answer_["message"], answer_
    assert set(answer_) == {"error_code", "message"}


def test_a_record_breaking_the_contract_is_named(app, prepared, roles):
    records = raw_records(prepared, roles).iloc[:1].assign(referred_lead=7)
    status, _, content = call(app, "POST", "/invocations", records_body(records))
    assert status == 400 and "row 0: referred_lead not 0 or 1" in json.loads(content)["message"]


def test_requests_past_the_limits_get_413_naming_the_limit(app, prepared, roles):
    records = raw_records(prepared, roles)
    many = records.iloc[: LIMITS.max_records + 1]
    status, _, content = call(app, "POST", "/invocations", records_body(many))
    assert status == 413 and "serve.max_records = 50" in json.loads(content)["message"]
    big = records_body(records.iloc[:1000])
    assert len(big) > LIMITS.max_request_bytes
    for chunks in (1, 8):  # declared by Content-Length, or only found while reading
        status, _, content = call(app, "POST", "/invocations", big, chunks=chunks)
        assert status == 413 and "serve.max_request_bytes" in json.loads(content)["message"]


def test_a_body_sent_too_slowly_gets_408_and_others_are_answered_meanwhile(app, prepared, roles):
    body = records_body(raw_records(prepared, roles).iloc[:2])

    async def both():
        slow = asyncio.to_thread(call, app, "POST", "/invocations", body, chunks=3, delay=1.5)
        quick = asyncio.to_thread(call, app, "POST", "/invocations", body)
        return await asyncio.gather(slow, quick)

    (slow_status, _, slow), (quick_status, _, _) = asyncio.run(both())
    assert quick_status == 200
    assert slow_status == 408 and "serve.read_timeout_s = 2 s" in json.loads(slow)["message"]


def test_the_server_failing_is_a_500_without_its_traceback(saved_sales):
    class Broken:
        def predict(self, frame):
            raise KeyError("internal detail")

    got = answer(Broken(), b'{"dataframe_records": [{"a": 1}]}', "application/json", LIMITS)
    assert got.status == 500
    assert "internal detail" not in got.body.decode() and "Traceback" not in got.body.decode()


def test_customer_summaries_are_checked_against_the_contract(tmp_path, fit_segments):
    """Impossible summaries are refused naming row and column; possible ones get a segment."""
    model, customers = fit_segments
    bad = customers.head(5).reset_index(drop=True)
    bad.loc[0, "monetary"] = -5.0
    bad.loc[1, "frequency"] = -1.0
    bad.loc[2, "cancellation_rate"] = 7.0
    bad.loc[3, "recency_days"] = -np.inf
    bad.loc[4, model.features[0]] = np.nan
    body = json.dumps({"dataframe_records": json.loads(bad.to_json(orient="records"))})
    got = answer(model, body.encode(), "application/json", LIMITS)
    message = json.loads(got.body)["message"]
    assert got.status == 400 and "stack_trace" not in got.body.decode()
    for expected in (
        "row 0: negative monetary",
        "row 1: negative frequency",
        "row 2: cancellation_rate above the units bought per order",
        "row 3: recency_days is not a finite number",
        f"row 4: {model.features[0]} is not a finite number",
    ):
        assert expected in message, message
    fine = answer(model, records_of(customers.head(3)), "application/json", LIMITS)
    assert fine.status == 200
    assert json.loads(fine.body)["predictions"] == model.predict(customers.head(3)).tolist()


def records_of(frame: pd.DataFrame) -> bytes:
    return json.dumps({"dataframe_records": json.loads(frame.to_json(orient="records"))}).encode()


def test_json_nan_and_infinity_parse_as_numbers_for_the_contract_to_name():
    frame = parse_request(b'{"inputs": {"a": [NaN, Infinity, null]}}', "application/json")
    assert frame["a"].isna().tolist() == [True, False, True] and np.isinf(frame["a"][1])


def test_a_missing_model_directory_is_named(tmp_path):
    with pytest.raises(
        InputError, match=r"absent: no such model directory; pass one, or a models:/"
    ):
        serve(str(tmp_path / "absent"), SEGMENTS, LIMITS, free_port(), workers=1)

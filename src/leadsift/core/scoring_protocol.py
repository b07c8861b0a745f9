"""MLflow's scoring protocol, read and answered by the project itself, for any of its models.

A request to /invocations is JSON with one of MLflow's input fields (`dataframe_split`,
`dataframe_records`, `instances`, `inputs`), a CSV or a parquet file; the answer is `{"predictions":
...}` as MLflow writes it. Reading it here, not with MLflow's server, lets every refusal be one 4xx
answer with a message and no stack trace: a body too large, too many records, JSON nested too deep,
a format or field it does not take, records that break the model's contract (`ContractBreachError`).
Anything else is the server's fault: a 500 that says so, its traceback in the server's log only.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from leadsift.core.config import TEXT, Rule, between, integer
from leadsift.core.contract import ContractBreachError

log = logging.getLogger("leadsift.serve")

JSON, CSV, PARQUET = "application/json", "text/csv", "application/x-parquet"
FIELDS = ("dataframe_split", "dataframe_records", "instances", "inputs")
ACCEPTED = f"JSON with one of {', '.join(FIELDS)}; or a CSV ({CSV}) or parquet ({PARQUET}) body"


MAX_LATENESS = 10 * 86_400
# config.yaml `serve:`, checked by `make serve` (no stage reads it)
SERVE_RULES: dict[str, Rule] = {
    "serve.workers": integer(1),
    "serve.max_request_bytes": integer(1),
    "serve.max_records": integer(1),
    "serve.read_timeout_s": between(0, float("inf"), closed="neither"),
    "serve.max_lateness": (
        lambda v: integer(0)[0](v) and v <= MAX_LATENESS,
        f"whole seconds in [0, {MAX_LATENESS}] (the click state holds a day more)",
    ),
    "serve.click_log": TEXT,
}


@dataclass(frozen=True)
class Limits:
    """What one request may ask of a server (config.yaml `serve:`)."""

    max_request_bytes: int
    max_records: int
    read_timeout_s: float

    @classmethod
    def from_params(cls, serve: Mapping[str, Any]) -> Limits:
        return cls(serve["max_request_bytes"], serve["max_records"], serve["read_timeout_s"])


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    media: str = JSON


class RequestRefusedError(Exception):
    """A request refused with `status` and a message saying what to change."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


ERROR_CODES = {
    400: "INVALID_PARAMETER_VALUE",
    404: "ENDPOINT_NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    408: "REQUEST_TIMEOUT",
    413: "REQUEST_LIMIT_EXCEEDED",
    415: "UNSUPPORTED_MEDIA_TYPE",
    500: "INTERNAL_ERROR",
}


def error_answer(status: int, message: str) -> Answer:
    """An error as MLflow's server words it: its code and a message, and nothing else."""
    body = json.dumps({"error_code": ERROR_CODES[status], "message": message})
    return Answer(status, body.encode())


def media_type(content_type: str) -> str:
    """The media type of a Content-Type header; a charset other than UTF-8 is refused (415)."""
    kind, *parameters = [part.strip() for part in content_type.split(";")]
    for parameter in parameters:
        key, _, value = parameter.partition("=")
        if key.lower() == "charset" and value.strip('"').lower() not in ("utf-8", "utf8"):
            raise RequestRefusedError(415, f"charset {value} is not supported: send UTF-8")
    if kind.lower() not in (JSON, CSV, PARQUET):
        raise RequestRefusedError(
            415, f"content type {kind or '(none)'!r} is not supported: send {ACCEPTED}"
        )
    return kind.lower()


def _frame(field: str, value: Any) -> pd.DataFrame:
    """The records of one JSON input field as a frame, or a 400 saying how it must look."""
    if field == "dataframe_split":
        if not isinstance(value, dict) or "data" not in value:
            raise RequestRefusedError(400, "dataframe_split must have 'data' field (and 'columns')")
        try:
            return pd.DataFrame(value["data"], columns=value.get("columns"))
        except (ValueError, TypeError) as error:
            raise RequestRefusedError(400, f"dataframe_split: {error}") from None
    records_like = isinstance(value, list) and all(isinstance(r, dict) for r in value)
    columns_like = isinstance(value, dict) and all(isinstance(v, list) for v in value.values())
    if not (records_like or columns_like):
        raise RequestRefusedError(
            400,
            f"{field} must be a list of records ({{column: value}}) or, for instances and "
            "inputs, a mapping of columns to lists of values",
        )
    try:
        return pd.DataFrame(value)
    except ValueError as error:  # columns of unequal lengths
        raise RequestRefusedError(400, f"{field}: {error}") from None


def parse_request(body: bytes, content_type: str) -> pd.DataFrame:
    """The records a request sends, as a frame; a `RequestRefusedError` naming what is wrong
    otherwise."""
    kind = media_type(content_type)
    if kind == CSV:
        try:
            return pd.read_csv(io.BytesIO(body))
        except (ValueError, UnicodeDecodeError) as error:
            raise RequestRefusedError(400, f"the CSV body could not be read: {error}") from None
    if kind == PARQUET:
        try:
            return pd.read_parquet(io.BytesIO(body))
        except (ValueError, OSError) as error:
            raise RequestRefusedError(400, f"the parquet body could not be read: {error}") from None
    try:
        payload = json.loads(body)
    except RecursionError:
        raise RequestRefusedError(400, "the JSON body nests too deep: send flat records") from None
    except (ValueError, UnicodeDecodeError) as error:
        raise RequestRefusedError(400, f"the body is not valid JSON: {error}") from None
    given = [f for f in FIELDS if isinstance(payload, dict) and f in payload]
    if len(given) != 1 or len(payload) != 1:
        keys = sorted(payload) if isinstance(payload, dict) else type(payload).__name__
        raise RequestRefusedError(
            400, f"send exactly one of the input fields {', '.join(FIELDS)}; got {keys}"
        )
    return _frame(given[0], payload[given[0]])


def answer(model: Any, body: bytes, content_type: str, limits: Limits) -> Answer:
    """The answer to one request to /invocations: the model's predictions for its records, or a
    4xx naming what to change, or a 500 (traceback in the log) when the server failed."""
    from mlflow.pyfunc.scoring_server import predictions_to_json  # noqa: PLC0415

    try:
        frame = parse_request(body, content_type)
        if len(frame) > limits.max_records:
            raise RequestRefusedError(
                413,
                f"{len(frame):,} records exceed serve.max_records = {limits.max_records:,}: "
                "send fewer per request, or score a large batch with the pipeline's score stage",
            )
        predictions = model.predict(frame)
    except RequestRefusedError as refusal:
        return error_answer(refusal.status, str(refusal))
    except ContractBreachError as refused:
        return error_answer(400, str(refused))
    except Exception:
        log.exception("scoring failed")
        return error_answer(500, "the server failed to score the request; its log says why")
    out = io.StringIO()
    predictions_to_json(predictions, out)
    return Answer(200, out.getvalue().encode())

"""The app `make serve` runs in each worker: MLflow's scoring protocol for one model, as a WSGI app
for gunicorn's sync workers.

Every request to /invocations is answered by MLflow's own `invocations` function, the one its
FastAPI server (`mlflow models serve`) calls: the same request formats (`dataframe_split`,
`dataframe_records`, `instances`, `inputs`; JSON, CSV or parquet), the same answers, and the same
error answers (a contract breach is a 400 naming row, column and problem). What differs is the
server around it:

- gunicorn's sync workers answer one request per connection and accept a new one only when idle,
  so concurrent requests go to whichever worker is free. Under uvicorn, a keep-alive connection
  stays with the worker that accepted it, and of 8 clients' connections one worker often held 6,
  7 or all 8 while the other idled.
- The model is loaded in each worker, then moved out of the garbage collector's reach
  (`gc.freeze`): it lives as long as the worker, and each full collection walked it all again,
  so a few requests in a thousand took ten times as long as the others.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any

from mlflow.environment_variables import _MLFLOW_IS_IN_SERVING_ENVIRONMENT
from mlflow.exceptions import MlflowException
from mlflow.pyfunc import PyFuncModel, scoring_server
from mlflow.version import VERSION

JSON = "application/json"
ROUTES = {"/ping": "GET", "/health": "GET", "/version": "GET", "/invocations": "POST"}

StartResponse = Callable[[str, list[tuple[str, str]]], Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


def scoring_app(model: PyFuncModel) -> WsgiApp:
    """A WSGI app for `model` with the routes of MLflow's scoring server: GET /ping and /health
    (200 once the model is loaded), GET /version (MLflow's), POST /invocations."""
    schema = model.metadata.get_input_schema()

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path, method = environ.get("PATH_INFO", ""), environ["REQUEST_METHOD"]
        headers = []
        if path not in ROUTES:
            status, content, media = 404, '{"detail": "Not Found"}', JSON
        elif method != ROUTES[path]:
            status, content, media = 405, '{"detail": "Method Not Allowed"}', JSON
            headers = [("Allow", ROUTES[path])]
        elif path == "/invocations":
            status, content, media = _invocation(model, schema, environ)
        else:
            status, content, media = 200, VERSION if path == "/version" else "\n", JSON
        body = content.encode() if isinstance(content, str) else content
        start_response(
            f"{status} {HTTPStatus(status).phrase}",
            [("Content-Type", media), ("Content-Length", str(len(body))), *headers],
        )
        return [body]

    return app


def _invocation(model: PyFuncModel, schema: Any, environ: dict[str, Any]) -> tuple[int, Any, str]:
    """MLflow's `invocations` of the request body: (status, content, media type); its errors as
    MLflow's server answers them (the status they carry, the error as JSON)."""
    data = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    content_type = environ.get("CONTENT_TYPE") or ""
    try:
        answer = scoring_server.invocations(data, content_type, model, schema)
    except MlflowException as error:
        return error.get_http_status_code(), error.serialize_as_json(), JSON
    return answer.status, answer.response, answer.mimetype


def create_app() -> WsgiApp:
    """The app of one gunicorn worker: the model at MLflow's server model path (set by
    `leadsift.serve`) loaded as `mlflow models serve` loads it, then frozen."""
    os.environ[_MLFLOW_IS_IN_SERVING_ENVIRONMENT.name] = "true"
    path = os.environ[scoring_server._SERVER_MODEL_PATH]
    app = scoring_app(scoring_server.load_model_with_mlflow_config(path))
    gc.collect()
    gc.freeze()
    return app

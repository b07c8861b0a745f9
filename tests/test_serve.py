"""`make serve`'s app: MLflow's scoring protocol for a loaded model, called as gunicorn calls it
(the served end to end is in test_serving_e2e)."""

from __future__ import annotations

import io
import json

import mlflow
import mlflow.pyfunc
import pytest

from leadsift.core.io import InputError
from leadsift.leads.schema import raw_records
from leadsift.scoring_app import scoring_app
from leadsift.serve import serve
from tests.server import free_port


@pytest.fixture(scope="module")
def app(saved_sales):
    return scoring_app(mlflow.pyfunc.load_model(str(saved_sales[1])))


def call(app, method: str, path: str, body: bytes = b"", content_type: str = "application/json"):
    """The app's status line, headers and body for one request."""
    seen = {}

    def start_response(status, headers):
        seen.update(status=status, headers=dict(headers))

    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "CONTENT_TYPE": content_type,
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
    }
    content = b"".join(app(environ, start_response))
    assert seen["headers"]["Content-Length"] == str(len(content))
    return seen["status"], seen["headers"], content


def records_body(records) -> bytes:
    return json.dumps({"dataframe_split": json.loads(records.to_json(orient="split"))}).encode()


def test_ping_health_and_version_answer_as_mlflows_server(app):
    status, headers, content = call(app, "GET", "/ping")
    assert (status, headers["Content-Type"], content) == ("200 OK", "application/json", b"\n")
    assert call(app, "GET", "/health")[0] == "200 OK"
    assert call(app, "GET", "/version")[2].decode() == mlflow.__version__


def test_unknown_paths_and_methods_are_refused(app):
    assert call(app, "GET", "/predict")[0] == "404 Not Found"
    status, headers, _ = call(app, "GET", "/invocations")
    assert status == "405 Method Not Allowed" and headers["Allow"] == "POST"


def test_invocations_answer_what_the_model_predicts(app, saved_sales, prepared, roles):
    scorer = saved_sales[0]
    records = raw_records(prepared, roles).iloc[:6]
    status, headers, content = call(app, "POST", "/invocations", records_body(records))
    assert status == "200 OK" and headers["Content-Type"] == "application/json"
    served = json.loads(content)["predictions"]
    expected = scorer.predict(records).reset_index(drop=True)
    assert [lead["probability"] for lead in served] == expected["probability"].tolist()
    assert [lead["lowers_1"] for lead in served] == expected["lowers_1"].tolist()
    # the same leads as a CSV body, which MLflow's protocol also takes
    csv = records.to_csv(index=False).encode()
    status, _, content = call(app, "POST", "/invocations", csv, "text/csv")
    assert status == "200 OK" and json.loads(content)["predictions"] == served


def test_mlflows_errors_keep_their_status_and_message(app, prepared, roles):
    records = raw_records(prepared, roles).iloc[:1].assign(referred_lead=7)
    status, _, content = call(app, "POST", "/invocations", records_body(records))
    assert status == "400 Bad Request"
    assert "row 0: referred_lead not 0 or 1" in json.loads(content)["message"]
    unsupported = call(app, "POST", "/invocations", b"{}", "application/json; charset=latin-1")
    assert unsupported[0] == "415 Unsupported Media Type"


def test_a_missing_model_directory_is_named(tmp_path):
    with pytest.raises(
        InputError, match=r"absent: no such model directory; pass one, or a models:/"
    ):
        serve(str(tmp_path / "absent"), "127.0.0.1", free_port(), workers=1)

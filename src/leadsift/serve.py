"""`make serve`: a pipeline's champion over HTTP, with MLflow's scoring protocol, on 127.0.0.1.

    python -m leadsift.serve [--pipeline leads|customers] [--model URI_OR_DIR] [--port 5001]
                             [--workers 2]

The lead model (the sales model, leadsift.leads.sales) takes raw lead records, the columns of the
incoming CSV, and answers per lead its probability of genuine, 0-100 score, tier, junk flag and
the inputs that raised and lowered its score; a lead that breaks the contract gets a 400 naming
the row, column and problem. The segmentation takes customer
summaries, the columns of data/customers/processed/customers.parquet, and returns each customer's
segment number (`predict`); reports/customers/segments.json names the segments.

It answers with MLflow's scoring protocol (`leadsift.scoring_app`: MLflow's own `invocations`
function, the one `mlflow models serve` calls) under gunicorn's sync workers, each with its own copy
of the model: a worker takes a new connection only when idle, so concurrent requests go to a free
worker. OpenMP threads wait passively (OMP_WAIT_POLICY, unless set): LightGBM predicts on two
threads, and after each one-lead prediction its idle thread spun for a while on the other core,
which the other worker and the clients needed.
"""

from __future__ import annotations

import argparse
import os
import sys

from mlflow.artifacts import download_artifacts
from mlflow.environment_variables import MLFLOW_SCORING_SERVER_REQUEST_TIMEOUT
from mlflow.pyfunc import scoring_server

from leadsift.core.cli import run_stage
from leadsift.core.config import read_params
from leadsift.core.io import InputError
from leadsift.core.tracking import alias_version, tracking_uri
from leadsift.registry_sync import MODELS

APP = "leadsift.scoring_app:create_app()"  # each worker loads the model, then freezes it


def gunicorn_command(host: str, port: int, workers: int, timeout: int) -> list[str]:
    """gunicorn serving `APP` on host:port with `workers` sync workers; a request that takes
    longer than `timeout` seconds has its worker restarted (where MLflow's own server answers
    504)."""
    return [
        sys.executable, "-m", "gunicorn", APP,
        "--bind", f"{host}:{port}",
        "--workers", str(workers),
        "--worker-class", "sync",
        "--timeout", str(timeout),
        "--no-control-socket",  # several servers on one machine would share its one path
    ]  # fmt: skip


def serve(model: str, host: str, port: int, workers: int) -> None:
    """Serve `model` (a directory, or a URI such as models:/) on host:port with `workers`
    processes, each holding its own copy of the model. This process becomes gunicorn's."""
    if os.path.isdir(model):
        local = model
    elif ":/" in model:  # models:/, runs:/, file:// ...
        local = download_artifacts(artifact_uri=model)
    else:
        raise InputError(f"{model}: no such model directory; pass one, or a models:/ URI")
    print(f"serving {model} on http://{host}:{port}/invocations", file=sys.stderr, flush=True)
    _, environment = scoring_server.get_cmd(local)  # where the app finds the model, and more
    environment.setdefault("OMP_WAIT_POLICY", "passive")  # read when OpenMP loads, in a worker
    command = gunicorn_command(host, port, workers, MLFLOW_SCORING_SERVER_REQUEST_TIMEOUT.get())
    os.execve(command[0], command, environment)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pipeline", choices=sorted(MODELS), default="leads")
    parser.add_argument("--model", help="model directory or models:/ URI (default: the champion)")
    parser.add_argument("--port", type=int, default=5001)
    parser.add_argument(
        "--workers",
        type=int,
        default=2,
        help="server processes answering in parallel, each with its own copy of the model "
        "(default: 2, one per core of a small machine; concurrent requests wait for a free one)",
    )
    args = parser.parse_args()
    name = read_params()["mlflow"]["models"][args.pipeline]
    model = args.model or f"models:/{name}@champion"
    if model.startswith("models:/"):
        name, version = alias_version(model, "the model to serve")
        print(f"{model} is {name} version {version}", file=sys.stderr)
    os.environ["MLFLOW_TRACKING_URI"] = tracking_uri()
    serve(model, "127.0.0.1", args.port, args.workers)


if __name__ == "__main__":
    run_stage(main)

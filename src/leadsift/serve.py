"""`make serve`: MLflow's own scoring server for a pipeline's champion, on 127.0.0.1.

    python -m leadsift.serve [--pipeline leads|customers] [--model URI_OR_DIR] [--port 5001]
                             [--workers 2]

The lead model (the sales model, leadsift.leads.sales) takes raw lead records, the columns of the
incoming CSV, and answers per lead its probability of genuine, 0-100 score, tier, junk flag and
the inputs that raised and lowered its score; a lead that breaks the contract gets a 400 naming
the row, column and problem. The segmentation takes customer
summaries, the columns of data/customers/processed/customers.parquet, and returns each customer's
segment number (`predict`); reports/customers/segments.json names the segments.

It runs what `mlflow models serve --env-manager local` runs (MLflow's scoring-server app under
uvicorn, in this environment), started here so that several workers answer keep-alive requests
without the delay described at `listening_socket`, and with the loaded model kept out of the
garbage collector's full collections (`leadsift.scoring_app`).
"""

from __future__ import annotations

import argparse
import os
import socket
import sys

import uvicorn
from mlflow.artifacts import download_artifacts
from mlflow.pyfunc import scoring_server
from uvicorn.supervisors import Multiprocess

from leadsift.core.cli import run_stage
from leadsift.core.config import read_params
from leadsift.core.io import InputError
from leadsift.core.tracking import alias_version, tracking_uri
from leadsift.promotion import MODELS

APP = "leadsift.scoring_app:app"  # the app `mlflow models serve` runs, the model frozen in


def listening_socket(config: uvicorn.Config) -> socket.socket:
    """uvicorn's listening socket for `config`, declared TCP. uvicorn creates it with protocol 0,
    its accepted connections inherit that, and asyncio switches Nagle's algorithm off
    (TCP_NODELAY) only on sockets that say IPPROTO_TCP: with two or more workers each keep-alive
    request past the first then waited about 40 ms for a delayed ACK (uvicorn issue #3149)."""
    bound = config.bind_socket()
    return socket.socket(bound.family, bound.type, socket.IPPROTO_TCP, fileno=bound.detach())


def serve(model: str, host: str, port: int, workers: int) -> None:
    """MLflow's scoring server for `model` (a directory, or a URI such as models:/) on
    host:port, with `workers` server processes, each holding its own copy of the model."""
    if os.path.isdir(model):
        local = model
    elif ":/" in model:  # models:/, runs:/, file:// ...
        local = download_artifacts(artifact_uri=model)
    else:
        raise InputError(f"{model}: no such model directory; pass one, or a models:/ URI")
    print(f"serving {model} on http://{host}:{port}/invocations", file=sys.stderr, flush=True)
    _, environment = scoring_server.get_cmd(local, port, host, nworkers=workers)
    os.environ.update(environment)  # where the app finds the model, and its request timeout
    config = uvicorn.Config(APP, host=host, port=port, workers=workers)
    sockets = [listening_socket(config)]
    if workers > 1:
        Multiprocess(config, sockets=sockets).run()
    else:
        uvicorn.Server(config).run(sockets=sockets)


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
        "(default: 2, one per core of a small machine; concurrent requests queue for them)",
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

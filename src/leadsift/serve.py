"""`make serve`: MLflow's own scoring server for a pipeline's champion, on 127.0.0.1.

    python -m leadsift.serve [--pipeline leads|customers] [--model URI_OR_DIR] [--port 5001]
                             [--workers 1]

The lead model (the sales model, leadsift.leads.sales) takes raw lead records, the columns of the
incoming CSV, and answers per lead its probability of genuine, 0-100 score, tier, junk flag and
the inputs that raised and lowered its score; a lead that breaks the contract gets a 400 naming
the row, column and problem. The segmentation takes customer
summaries, the columns of data/customers/processed/customers.parquet, and returns each customer's
segment number (`predict`); reports/customers/segments.json names the segments.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys

from leadsift.core.cli import run_stage
from leadsift.core.config import read_params
from leadsift.core.tracking import alias_version, tracking_uri
from leadsift.promotion import MODELS


def serve_command(model: str, port: int, workers: int, host: str = "127.0.0.1") -> list[str]:
    """The `mlflow models serve` call: the current environment (`--env-manager local`), with
    `workers` server processes, each holding its own copy of the model."""
    return [
        "mlflow",
        "models",
        "serve",
        "-m",
        model,
        "--env-manager",
        "local",
        "-h",
        host,
        "-p",
        str(port),
        "--workers",
        str(workers),
    ]


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
        default=1,
        help="server processes answering in parallel, each with its own copy of the model "
        "(default: 1; more shorten queues under concurrent load but, measured on two cores, "
        "double the latency of one request at a time)",
    )
    args = parser.parse_args()
    name = read_params()["mlflow"]["models"][args.pipeline]
    model = args.model or f"models:/{name}@champion"
    if shutil.which("mlflow") is None:
        sys.exit(
            "error: mlflow is not on PATH; run `make serve`, or `source .venv/bin/activate` first"
        )
    if model.startswith("models:/"):
        name, version = alias_version(model, "the model to serve")
        print(f"{model} is {name} version {version}", file=sys.stderr)
    os.environ["MLFLOW_TRACKING_URI"] = tracking_uri()
    command = serve_command(model, args.port, args.workers)
    print(
        f"serving {model} on http://127.0.0.1:{args.port}/invocations", file=sys.stderr, flush=True
    )
    os.execvp(command[0], command)


if __name__ == "__main__":
    run_stage(main)

"""`make serve`: a pipeline's champion over HTTP, with MLflow's scoring protocol, on 127.0.0.1.

    python -m leadsift.serve [--pipeline leads|customers|clicks] [--model URI_OR_DIR]
                             [--port 5001] [--workers N] [--log CLICK_LOG]

The lead model (the sales model, leadsift.leads.sales) takes raw lead records, the columns of the
incoming CSV, and answers per lead its probability of genuine, 0-100 score, tier, junk flag and
the inputs that raised and lowered its score. The segmentation takes customer summaries, the
columns of data/customers/processed/customers.parquet, and returns each customer's segment number;
reports/customers/segments.json names the segments. The click model takes raw clicks as they
happen, in the log's columns, and answers each from the clicks before it (a state warmed from the
prepared log, in one worker: leadsift.clicks.serving): its probability of attribution, flag, tier
and top contributions. A record that breaks the model's contract gets a 400 naming the row,
column and problem.

Before it serves, the model is loaded once through the project's trusted loader (a model whose
MLmodel asks for anything else is refused) and its code copy is compared with this checkout's
package: a model saved with other code is refused rather than run with code it was not saved
with. The server itself is `leadsift.scoring_app`, with the limits of config.yaml `serve:`.
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from leadsift.core.cli import run_stage
from leadsift.core.config import load_params
from leadsift.core.io import InputError, first_few
from leadsift.core.model_store import code_differences, load_model, local_model_dir
from leadsift.core.scoring_protocol import SERVE_RULES, Limits
from leadsift.core.tracking import alias_version, point_at_store, source_commit
from leadsift.pipelines import PIPELINES

if TYPE_CHECKING:
    from leadsift.scoring_app import Prepare


def check_code(model: str, model_dir: Path) -> None:
    """Refuse a model whose code copy differs from the installed package, saying how to serve
    it: from the commit it was saved with, or by registering one built with this code."""
    if differ := code_differences(model_dir):
        commit = source_commit(model) if model.startswith("models:/") else None
        where = f"serve it from {commit[:12]}, the commit it was saved with, or " if commit else ""
        raise InputError(
            f"{model} was saved with other code than this checkout's ({first_few(differ, 4)} "
            f"differ): {where}build and register a model with this code (`make repro` on the "
            "main branch), or pass --model models/<its directory>"
        )


def serve(
    model: str,
    trusted: list[str],
    limits: Limits,
    port: int,
    workers: int,
    *,
    prepare: Prepare | None = None,
) -> None:
    """Serve `model` (a directory, or a URI such as models:/) on 127.0.0.1:`port` with `workers`
    processes, each holding its own copy of the model (wrapped by `prepare`, where given)."""
    import uvicorn  # noqa: PLC0415 - only serving needs it

    from leadsift.scoring_app import ScoringApp, Workers  # noqa: PLC0415

    local = local_model_dir(model)
    load_model(local, trusted)  # refused here, with its reason, before any worker starts
    check_code(model, local)
    os.environ.setdefault("OMP_WAIT_POLICY", "passive")  # the workers' OpenMP threads
    print(f"serving {model} on http://127.0.0.1:{port}/invocations", file=sys.stderr, flush=True)
    app = ScoringApp(Workers(local, trusted, limits, workers, prepare))
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pipeline", choices=sorted(PIPELINES), default="leads")
    parser.add_argument("--model", help="model directory or models:/ URI (default: the champion)")
    parser.add_argument("--port", type=int, default=5001)
    parser.add_argument(
        "--workers",
        type=int,
        help="processes answering in parallel, each with its own copy of the model "
        "(default: config.yaml serve.workers)",
    )
    parser.add_argument(
        "--log",
        help="clicks: the prepared click log (file or folder) the scorer's state is warmed from "
        "(default: config.yaml serve.click_log)",
    )
    args = parser.parse_args()
    params = load_params(SERVE_RULES)
    pipeline = PIPELINES[args.pipeline]
    model = args.model or f"models:/{params['mlflow']['models'][args.pipeline]}@champion"
    if model.startswith("models:/"):
        name, version = alias_version(model, "the model to serve")
        print(f"{model} is {name} version {version}", file=sys.stderr)
    point_at_store()
    workers, prepare = args.workers or params["serve"]["workers"], None
    if args.pipeline == "clicks":  # one state of recent clicks: one process keeps it
        if workers > 1:
            print("the click scorer keeps one state of recent clicks: 1 worker", file=sys.stderr)
        from leadsift.clicks.param_rules import RULES  # noqa: PLC0415
        from leadsift.clicks.serving import warm_scorer  # noqa: PLC0415

        workers, prepare = (
            1,
            functools.partial(warm_scorer, params=load_params(RULES), log=args.log),
        )
    limits = Limits.from_params(params["serve"])
    serve(model, pipeline.trusted(), limits, args.port, workers, prepare=prepare)


if __name__ == "__main__":
    run_stage(main)

"""The two pipelines' registered models, and `make repro`'s last step for them.

    python -m leadsift.registry_sync sync

DVC skips a gate stage whose committed output is up to date, so in a fresh clone (or against a
newly configured MLflow server) the store would never see the workspace's models. `sync` reruns
the gate of each model the store holds no version of, where promotion is on (leadsift.core.registry
says where).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from leadsift.core import registry, tracking
from leadsift.core.cli import run_stage
from leadsift.core.config import read_params

# pipeline: (its saved model, the dvc.yaml stage whose gate registers it)
MODELS = {
    "leads": (Path("models/sales"), "leads_register"),
    "customers": (Path("models/segments"), "customers_register"),
}


def sync() -> None:
    """Run the gate of every model the store has never seen, then what depends on its verdict."""
    params = read_params()
    branch, names = params["promotion"]["main_branch"], params["mlflow"]["models"]
    stale = [
        stage
        for pipeline, (model_dir, stage) in MODELS.items()
        if registry.needs_gate(model_dir, names[pipeline], branch)
    ]
    if not stale:
        return
    print(f"{tracking.tracking_uri()} holds no version of this workspace's model: running {stale}")
    sys.stdout.flush()
    for stage in stale:
        subprocess.run(["dvc", "repro", "--force", "--single-item", stage], check=True)
    subprocess.run(["dvc", "repro"], check=True)


if __name__ == "__main__":
    if sys.argv[1:] != ["sync"]:
        sys.exit("usage: python -m leadsift.registry_sync sync")
    run_stage(sync)

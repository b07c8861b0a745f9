"""`make repro`'s last step: the pipelines' registered models, synced with the store.

    python -m leadsift.registry_sync

DVC skips a gate stage whose committed output is up to date, so in a fresh clone (or against a
newly configured MLflow server) the store would never see the workspace's models. This reruns
the gate of each model the store holds no version of, where promotion is on (leadsift.core.registry
says where).
"""

from __future__ import annotations

import subprocess
import sys

from leadsift.core import registry, tracking
from leadsift.core.cli import run_stage
from leadsift.core.config import read_params
from leadsift.pipelines import PIPELINES


def sync() -> None:
    """Run the gate of every model the store has never seen, then what depends on its verdict."""
    params = read_params()
    branch, names = params["promotion"]["main_branch"], params["mlflow"]["models"]
    stale = [
        pipeline.register_stage
        for name, pipeline in PIPELINES.items()
        if registry.needs_gate(pipeline.model_dir, names[name], branch)
    ]
    if not stale:
        return
    print(f"{tracking.tracking_uri()} holds no version of this workspace's model: running {stale}")
    sys.stdout.flush()
    for stage in stale:
        subprocess.run(["dvc", "repro", "--force", "--single-item", stage], check=True)
    subprocess.run(["dvc", "repro"], check=True)


if __name__ == "__main__":
    run_stage(sync)

"""A throwaway copy of the project as its own git + DVC repository, for end-to-end dvc runs."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from leadsift.bench import copy_project
from leadsift.bench.harness import shop_size
from leadsift.core.config import write_overrides

ROOT = Path(__file__).resolve().parents[1]

# Small, fast settings for tests; everything else is the project's own params.yaml.
SMALL = {
    "generate.n_leads": 5000,
    "incoming.leads_per_batch": 1000,
    "leads_evaluate.importance_rows": 600,
    "leads_evaluate.importance_repeats": 2,
    "tune.n_trials": 4,
    # four trials never prune: cap the rounds and trees each one grows
    "tune_setup.spaces.lightgbm.n_estimators": {"low": 50, "high": 150, "step": 50},
    "tune_setup.spaces.hist_gradient_boosting.max_iter": {"low": 50, "high": 150, "step": 50},
    "tune_setup.spaces.random_forest.n_estimators": {"low": 20, "high": 40, "step": 20},
    "generate_transactions.n_customers": 1500,
    "segment_setup.sample_rows": 800,
    "segment_setup.n_init": 3,
    "segment_setup.stability_refits": 2,
    "customers_register.n_bootstrap": 50,
    "segment.n_trials": 8,
    "forecast_setup.origins": 2,
    "forecast_setup.min_interval_errors": 3,  # each origin's interval from the other's errors
    "customers_drivers.placebo_draws": 10,
    "generate_clicks.n_clicks": 240_000,
    "clicks_tune.n_trials": 3,
    "clicks_tune_setup.space.n_estimators": {"low": 50, "high": 150, "step": 50},
    "clicks_engine.memory_limit": "1GB",
    "clicks_engine.threads": 1,
}
# the embedded shop at this size, its calendar's campaign (0.14 of its customers) resized too
SMALL.update(shop_size(SMALL["generate_transactions.n_customers"], ROOT))


class Repo:
    def __init__(self, path: Path, overrides: dict[str, Any] | None = None) -> None:
        self.path = path
        copy_project(path, ROOT)
        self.update_params({**SMALL, **(overrides or {})})
        self.run("git", "init", "-q", "-b", "main")
        self.run("git", "config", "user.email", "tests@leadsift.invalid")
        self.run("git", "config", "user.name", "leadsift tests")
        self.run("dvc", "init", "-q")
        self.commit("project")

    @classmethod
    def copy_of(cls, repo: Repo, path: Path) -> Repo:
        """A full copy (workspace, git history, DVC cache) to change without touching `repo`."""
        shutil.copytree(repo.path, path, symlinks=True)
        copy = cls.__new__(cls)
        copy.path = path
        return copy

    @property
    def env(self) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("DVC_", "MLFLOW_", "SOURCE_DATE"))
        }
        env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
        env["DVC_NO_ANALYTICS"] = "1"
        # `make test` runs two workers on two cores: one thread per stage process, so that
        # OpenMP and BLAS pools of two builds do not spin against each other.
        env |= {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        return env

    def run(
        self, *args: str, check: bool = True, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess:
        """Run a command in the repository (with `env` added to its environment)."""
        result = subprocess.run(
            args,
            cwd=self.path,
            env={**self.env, **(env or {})},
            capture_output=True,
            text=True,
            check=False,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"{' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
            )
        return result

    def commit(self, message: str) -> None:
        self.run("git", "add", "-A")
        self.run("git", "commit", "-q", "-m", message)

    def update_params(self, overrides: dict[str, Any]) -> None:
        """Set dotted keys in params.yaml or config.yaml, wherever each lives."""
        write_overrides(self.path, overrides)

    def repro(self, *args: str) -> list[str]:
        """Run `dvc repro` and return the names of the stages that ran."""
        result = self.run("dvc", "repro", *args)
        return re.findall(r"Running stage '([\w-]+)'", result.stdout + result.stderr)

    def run_queue(self, workers: int, env: dict[str, str] | None = None) -> str:
        """`dvc queue start -j workers`, waited for (10 minutes at most): the final status."""
        self.run("dvc", "queue", "start", "-j", str(workers), env=env)
        deadline = time.monotonic() + 600
        try:
            while time.monotonic() < deadline:
                status = self.run("dvc", "queue", "status").stdout
                if "Queued" not in status and "Running" not in status:
                    return status
                time.sleep(3)
            raise AssertionError(f"queue still busy after 10 minutes:\n{status}")
        finally:
            self.run("dvc", "queue", "stop", "--kill", check=False)

    def lock_outs(self) -> dict[str, str]:
        """Every output's hash recorded in dvc.lock, by path."""
        lock = yaml.safe_load((self.path / "dvc.lock").read_text())
        return {
            out["path"]: out["md5"]
            for stage in lock["stages"].values()
            for out in stage.get("outs", [])
        }

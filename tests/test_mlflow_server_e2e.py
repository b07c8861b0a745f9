"""The team's MLflow server: `make mlflow-server` on a real PostgreSQL backend store (started from
the machine's binaries) with a local artifact root; the register stages of all three pipelines
write to it, and two queued experiments run by `dvc queue start -j 2` log to it at once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy
from mlflow import MlflowClient

from tests.postgres import postgres_server
from tests.repo import ROOT, Repo
from tests.server import free_port, wait_until_up

pytestmark = pytest.mark.e2e

EXPERIMENT_TAG = "leadsift.dvc_experiment"
MODELS = ("leadsift-junk-lead", "leadsift-customer-segments", "leadsift-click-attribution")


@pytest.fixture(scope="module")
def team_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """`make mlflow-server` on a fresh PostgreSQL database: its URL and the database's."""
    folder = tmp_path_factory.mktemp("team_server")
    port = free_port()
    with postgres_server(max_connections=30) as database:
        variables = {
            "VENV": str(Path(sys.executable).parents[1]),
            "LEADSIFT_MLFLOW_DB": database,
            "LEADSIFT_MLFLOW_PORT": str(port),
            "LEADSIFT_MLFLOW_ARTIFACTS": str(folder / "artifacts"),
        }
        log = folder / "server.log"
        with log.open("w") as output:
            process = subprocess.Popen(
                ["make", "-s", "mlflow-server", *(f"{k}={v}" for k, v in variables.items())],
                cwd=ROOT, stdout=output, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        url = f"http://127.0.0.1:{port}"
        try:
            wait_until_up(f"{url}/health", process, log.read_text, deadline_s=180)
            yield url, database
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=60)


def test_make_mlflow_server_asks_for_its_database():
    done = subprocess.run(
        ["make", "-s", "mlflow-server", f"VENV={Path(sys.executable).parents[1]}",
         "LEADSIFT_MLFLOW_DB="],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode != 0 and "set LEADSIFT_MLFLOW_DB" in done.stderr


def test_three_pipelines_register_and_two_queued_experiments_log_at_once(
    baseline, team_server, tmp_path
):
    url, database = team_server
    repo = Repo.copy_of(baseline.repo, tmp_path / "team")
    env = {"MLFLOW_TRACKING_URI": url}
    stages = ("leads_register", "customers_register", "clicks_register")
    repo.run("dvc", "repro", "--force", "--single-item", *stages,
             env={**env, "LEADSIFT_PROMOTION": "on"})  # fmt: skip
    client = MlflowClient(url)
    for name in MODELS:  # an empty registry: each pipeline's model is promoted as version 1
        assert client.get_model_version_by_alias(name, "champion").version == "1"

    repo.commit("registered on the team's server")
    repo.run("dvc", "exp", "run", "--queue", "-S", "train.coverage=0.85,0.95", env=env)
    status = repo.run_queue(workers=2, env=env)
    assert status.count("Success") == 2, status
    runs = client.search_runs(
        [client.get_experiment_by_name("leadsift").experiment_id],
        filter_string="attributes.run_name = 'leads_train'",
    )
    experiments = {r.data.tags.get(EXPERIMENT_TAG) for r in runs}
    assert len(experiments - {None}) == 2  # each queued experiment's training, on the server
    first, second = sorted(
        (r.info.start_time, r.info.end_time) for r in runs if r.data.tags.get(EXPERIMENT_TAG)
    )
    assert second[0] < first[1], "the two experiments' training runs did not overlap"
    with sqlalchemy.create_engine(database).connect() as connection:  # the store is PostgreSQL
        names = connection.execute(sqlalchemy.text("SELECT name FROM registered_models")).all()
        n_runs = connection.execute(sqlalchemy.text("SELECT COUNT(*) FROM runs")).scalar_one()
    assert sorted(n for (n,) in names) == sorted(MODELS) and n_runs >= len(runs) + len(stages)

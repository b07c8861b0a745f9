"""Optuna studies shared by several workers (`leadsift.core.studies`), against a real PostgreSQL
server started here from the machine's binaries, and a journal file: the exact number of trials,
no trial number twice, every worker at work, connections bounded, the best trial the study's,
and a worker killed with SIGKILL mid-trial leaving a study the next run completes."""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from pathlib import Path

import optuna
import pandas as pd
import pytest
import sqlalchemy
import yaml

from leadsift.bench.harness import run_stage, stage_copy
from leadsift.core.io import InputError
from leadsift.core.studies import POOL, Studies, study_name
from leadsift.core.tuning import run_study
from tests.postgres import postgres_server

TrialState = optuna.trial.TrialState


@pytest.fixture(scope="module")
def postgres() -> str:
    with postgres_server() as url:
        yield url


def connections(url: str) -> int:
    """Client connections the server holds now (this one left out)."""
    engine = sqlalchemy.create_engine(url, poolclass=sqlalchemy.pool.NullPool)
    with engine.connect() as connection:
        query = (
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = 'leadsift' AND backend_type = 'client backend'"
        )
        return connection.execute(sqlalchemy.text(query)).scalar() - 1


def objective(url: str | None = None, pause: float = 0.05):
    def evaluate(trial: optuna.Trial) -> float:
        x = trial.suggest_float("x", -3, 3)
        trial.set_user_attr("pid", os.getpid())
        if url:
            trial.set_user_attr("connections", connections(url))
        time.sleep(pause)
        return -((x - 1) ** 2)

    return evaluate


def stored(url: str, name: str) -> list[optuna.trial.FrozenTrial]:
    """The trials of the stored study `name` (its connections closed after)."""
    storage = Studies(url).open()
    try:
        return optuna.load_study(study_name=name, storage=storage).trials
    finally:
        storage.engine.dispose()


def test_two_workers_add_exactly_the_trials_asked_with_bounded_connections(postgres):
    studies = Studies(postgres, workers=2, heartbeat_s=5)
    study = run_study(
        objective(postgres), n_trials=10, seed=1, pruner="none", studies=studies, name="two"
    )
    trials = stored(postgres, "two")
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 10
    assert sorted(t.number for t in trials) == list(range(10))
    assert len({t.user_attrs["pid"] for t in trials}) == 2  # both workers ran trials
    assert study.best_value == max(t.value for t in trials)
    # each worker holds at most POOL's connections (the stage's own are closed meanwhile)
    per_worker = POOL["pool_size"] + POOL["max_overflow"]
    assert max(t.user_attrs["connections"] for t in trials) <= 2 * per_worker
    # the same study asked again is complete: no trial runs
    run_study(objective(), n_trials=10, seed=1, pruner="none", studies=studies, name="two")
    assert len(stored(postgres, "two")) == 10


def _run_then_be_killed(url: str) -> None:
    studies = Studies(url, workers=1, heartbeat_s=1)
    run_study(objective(pause=600), n_trials=3, seed=1, pruner="none", studies=studies, name="kill")


def test_a_worker_killed_mid_trial_leaves_a_study_the_next_run_completes(postgres):
    worker = multiprocessing.get_context("fork").Process(
        target=_run_then_be_killed, args=(postgres,)
    )
    worker.start()
    deadline = time.monotonic() + 60
    while not _beating(
        postgres, "kill"
    ):  # killed before its first beat, a trial would stay running
        if time.monotonic() > deadline:
            os.kill(worker.pid, signal.SIGKILL)
            raise AssertionError("the worker's trial never sent a heartbeat")
        time.sleep(0.2)
    os.kill(worker.pid, signal.SIGKILL)
    worker.join()
    time.sleep(2.5)  # past the grace period: twice the heartbeat
    studies = Studies(postgres, workers=1, heartbeat_s=1)
    run_study(objective(), n_trials=3, seed=1, pruner="none", studies=studies, name="kill")
    states = [t.state for t in stored(postgres, "kill")]
    assert states.count(TrialState.FAIL) == 1 and states.count(TrialState.COMPLETE) == 3
    assert TrialState.RUNNING not in states


def _beating(url: str, name: str) -> bool:
    """Whether a running trial of the study `name` has sent its first heartbeat."""
    engine = sqlalchemy.create_engine(url, poolclass=sqlalchemy.pool.NullPool)
    with engine.connect() as connection:
        if not sqlalchemy.inspect(connection).has_table("trial_heartbeats"):
            return False
        query = (
            "SELECT count(*) FROM trial_heartbeats h JOIN trials t ON h.trial_id = t.trial_id "
            "JOIN studies s ON t.study_id = s.study_id "
            "WHERE s.study_name = :name AND t.state = 'RUNNING'"
        )
        return connection.execute(sqlalchemy.text(query), {"name": name}).scalar() > 0


def test_workers_share_a_journal_file_too(tmp_path: Path):
    studies = Studies(f"journal:{tmp_path / 'studies.log'}", workers=2)
    run_study(objective(), n_trials=6, seed=1, pruner="none", studies=studies, name="journal")
    trials = optuna.load_study(study_name="journal", storage=studies.open()).trials
    assert sorted(t.number for t in trials) == list(range(6))
    assert {t.state for t in trials} == {TrialState.COMPLETE}


def test_several_workers_need_a_storage_and_a_study_is_named_by_its_data():
    with pytest.raises(InputError, match=r"studies\.workers > 1 needs studies\.storage"):
        run_study(objective(), n_trials=2, seed=1, pruner="none", studies=Studies(None, workers=2))
    a, b = pd.DataFrame({"x": [1, 2]}), pd.DataFrame({"x": [1, 3]})
    assert study_name("s", {"k": 1}, [a]) == study_name("s", {"k": 1}, [a.copy()])
    assert study_name("s", {"k": 1}, [a]) != study_name("s", {"k": 1}, [b])
    assert study_name("s", {"k": 1}, [a]) != study_name("s", {"k": 2}, [a])


@pytest.mark.e2e
def test_the_lead_study_on_postgresql_writes_its_best_trial_to_the_stage_outputs(
    baseline, postgres, tmp_path
):
    """leads_tune of a built repository, its study on the PostgreSQL server by two workers: the
    stage's best_params.yaml and trial table are the stored study's."""
    copy = stage_copy(
        tmp_path / "copy",
        baseline.repo.path,
        inputs=["data/split/train.parquet", "data/split/validation.parquet"],
        overrides={"studies.storage": postgres, "studies.workers": 2, "tune.n_trials": 4},
    )
    run_stage(copy, "leads_tune")
    storage = Studies(postgres).open()
    (summary,) = [
        s for s in optuna.get_all_study_summaries(storage) if s.study_name.startswith("leads_tune-")
    ]
    study = optuna.load_study(study_name=summary.study_name, storage=storage)
    assert [t.state for t in study.trials] == [TrialState.COMPLETE] * 4
    best = yaml.safe_load((copy / "models/best_params.yaml").read_text())
    assert best["params"] == pytest.approx(study.best_params, rel=1e-9)  # written to 12 digits
    assert best["best_trial"] == study.best_trial.number
    assert len(pd.read_csv(copy / "reports/tuning/trials.csv")) == 4

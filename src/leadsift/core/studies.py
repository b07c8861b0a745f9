"""Where a tune stage's Optuna study lives and how many processes add trials to it (config.yaml
`studies:`, read by leads_tune and clicks_tune; customers_tune tries its small space whole, in
memory).

- `storage: null` (the default): in memory, in the stage's process; trials one at a time, so two
  builds give the same study trial by trial.
- `journal:<file>`: Optuna's journal file, shared by the processes of one machine.
- a `postgresql+psycopg://user@host/db` URL: the team's PostgreSQL. Each process holds at most two
  connections (a pool of one, one overflow), and a running trial sends a heartbeat every
  `heartbeat_s`: a trial silent for twice that (its process was killed after its first beat) is
  marked failed by the next process that starts a trial, and the study goes on without it. A
  journal has no heartbeat: a killed worker's trial stays running there.

A stored study is named after its stage and a digest of all the params, the data its trials fit
on, the package's code and the libraries' versions, so the next run of the stage on the same data
and code finds it: `n_trials` counts its complete and pruned trials, and a run adds only those
missing, its samplers seeded afresh. A study cut short (a worker killed, a machine lost) is
completed by the next run; a complete one runs no trial again. `workers` processes, forked from
the stage with a sampler seed each, share the missing trials, so the study ends with exactly
`n_trials` when one run works on it at a time (two runs started at once each add what was
missing when they started). What stays reproducible with several workers: the number of trials,
the space, and that the best of them is the one written; not the order of trials, which depends
on which worker finished first, nor therefore the sampler's later suggestions. DVC records the
stage's outputs as always (the best trial and the trial table), so `dvc exp show` compares them;
with `workers: 1` a new study's trials are the in-memory study's.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import multiprocessing
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

import optuna
import pandas as pd

from leadsift.core.io import InputError

FINISHED = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
PACKAGE = Path(__file__).resolve().parents[1]  # leadsift/: its code is part of a study's name
LIBRARIES = ("optuna", "lightgbm", "scikit-learn", "numpy", "pandas")
POOL = {"pool_size": 1, "max_overflow": 1, "pool_pre_ping": True}  # connections per process: 2


@contextlib.contextmanager
def _heartbeat_is_ours() -> Iterator[None]:
    """Optuna still labels heartbeats experimental; the label is not this project's concern."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        yield


@dataclass(frozen=True)
class Studies:
    """config.yaml `studies:`."""

    storage: str | None = None
    workers: int = 1
    heartbeat_s: int = 60

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> Studies:
        entry = params.get("studies") or {}
        return cls(entry.get("storage"), entry.get("workers", 1), entry.get("heartbeat_s", 60))

    @property
    def stored(self) -> bool:
        return self.storage is not None

    def open(self) -> optuna.storages.BaseStorage | None:
        """The storage (a new one, with its own connections), or None: in memory."""
        if self.storage is None:
            return None
        if self.storage.startswith("journal:"):
            path = Path(self.storage.removeprefix("journal:"))
            path.parent.mkdir(parents=True, exist_ok=True)
            return optuna.storages.JournalStorage(
                optuna.storages.journal.JournalFileBackend(str(path))
            )
        with _heartbeat_is_ours():
            return optuna.storages.RDBStorage(
                self.storage,
                engine_kwargs=POOL,
                heartbeat_interval=self.heartbeat_s,
                grace_period=2 * self.heartbeat_s,
            )


def study_name(stage: str, params: Mapping[str, Any], data: Sequence[pd.DataFrame] = ()) -> str:
    """`stage-<digest>` of everything a trial's score depends on: all the params (any change,
    `n_trials` too, is another study), the data the trials fit on, the package's code and the
    libraries' versions. The same run on the same data finds the same study."""
    digest = hashlib.sha256(json.dumps(params, sort_keys=True, default=str).encode())
    for frame in data:
        digest.update(json.dumps(list(map(str, frame.columns))).encode())
        digest.update(pd.util.hash_pandas_object(frame, index=True).to_numpy().tobytes())
    for source in sorted(PACKAGE.rglob("*.py")):
        digest.update(source.read_bytes())
    for library in LIBRARIES:
        digest.update(f"{library} {version(library)}".encode())
    return f"{stage}-{digest.hexdigest()[:12]}"


@dataclass(frozen=True)
class _Share:
    """What one worker runs: `n_trials` trials of the study `name`, its sampler seeded `seed`."""

    name: str
    evaluate: Callable[[optuna.Trial], float]
    make_sampler: Callable[[int], optuna.samplers.BaseSampler]
    make_pruner: Callable[[], optuna.pruners.BasePruner]
    seed: int
    n_trials: int
    timeout: float | None


def _work(studies: Studies, share: _Share) -> None:
    """One worker: its own storage connections and sampler seed."""
    study = optuna.load_study(
        study_name=share.name,
        storage=studies.open(),
        sampler=share.make_sampler(share.seed),
        pruner=share.make_pruner(),
    )
    study.optimize(share.evaluate, n_trials=share.n_trials, timeout=share.timeout, n_jobs=1)


def run_stored(
    evaluate: Callable[[optuna.Trial], float],
    studies: Studies,
    *,
    name: str,
    n_trials: int,
    seed: int,
    make_sampler: Callable[[int], optuna.samplers.BaseSampler],
    make_pruner: Callable[[], optuna.pruners.BasePruner],
    timeout: float | None = None,
) -> optuna.Study:
    """The study `name` in the stored `studies`, completed to `n_trials` finished trials by
    `studies.workers` processes (the stage's own, for one)."""
    storage = studies.open()
    study = optuna.create_study(
        study_name=name,
        storage=storage,
        direction="maximize",
        sampler=make_sampler(seed),
        pruner=make_pruner(),
        load_if_exists=True,
    )
    with _heartbeat_is_ours():
        optuna.storages.fail_stale_trials(study)  # a killed worker's trial, past its grace
    left = n_trials - len(study.get_trials(deepcopy=False, states=FINISHED))
    if study.trials:  # a resumed study: samplers seeded afresh, not to repeat its first trials
        seed += 7919 * len(study.trials)
        study.sampler = make_sampler(seed)
    shares = [
        left // studies.workers + (k < left % studies.workers) for k in range(studies.workers)
    ]
    shares = [n for n in shares if n > 0]
    if len(shares) == 1:
        study.optimize(evaluate, n_trials=shares[0], timeout=timeout, n_jobs=1)
    elif shares:
        if isinstance(storage, optuna.storages.RDBStorage):
            storage.engine.dispose()  # no connection of the stage's is shared with a fork
        # forked, not spawned: each worker inherits the objective and its data as they are
        context = multiprocessing.get_context("fork")
        workers = [
            context.Process(
                target=_work,
                args=(
                    studies,
                    _Share(name, evaluate, make_sampler, make_pruner, seed + k, n, timeout),
                ),
            )
            for k, n in enumerate(shares)
        ]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        if stopped := [w.exitcode for w in workers if w.exitcode != 0]:
            raise InputError(
                f"{len(stopped)} of {len(workers)} study worker(s) stopped (exit {stopped}); "
                f"the study {name} keeps their finished trials: run the stage again to complete it"
            )
        study = optuna.load_study(study_name=name, storage=studies.open())
    return study

"""MLflow tracking: where runs go, how they are tagged, and how stages find each other's runs.

Runs go to `MLFLOW_TRACKING_URI` when it is set (a team's server), else to a SQLite file
`mlflow.db` with artifacts in `mlartifacts/`, both in the repository root. Under `dvc exp run` the
stages execute in a temporary copy of the repository; `DVC_ROOT` names the original, so runs from
experiments land in the same store instead of vanishing with the copy.

Run ids are not deterministic, so they never go into a DVC output. Stages find the run that logged
a model by the model's uuid, which `model_store` derives from the model's bytes.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
import yaml
from mlflow.entities import Run
from sklearn.pipeline import Pipeline

from leadsift.core import model_store
from leadsift.core.io import InputError

MODEL_UUID_TAG = "leadsift.model_uuid"
MODEL_URI_TAG = "leadsift.model_uri"
Artifacts = Iterable[tuple[str, Path]]  # (folder in the run, local file)


def project_root() -> Path:
    """The repository the pipeline belongs to (the original one, under `dvc exp run`)."""
    return Path(os.environ.get("DVC_ROOT") or Path.cwd()).resolve()


def _local_uri() -> str:
    return f"sqlite:///{project_root() / 'mlflow.db'}"


def tracking_uri() -> str:
    return os.environ.get("MLFLOW_TRACKING_URI") or _local_uri()


# Where a local store records absolute artifact locations (MLflow has no relative ones).
LOCATION_COLUMNS = (
    ("experiments", "artifact_location"),
    ("runs", "artifact_uri"),
    ("model_versions", "source"),
    ("model_versions", "storage_location"),
    ("logged_models", "artifact_location"),
)


def relocate_local_store(root: Path) -> list[str]:
    """Point a local store's artifact locations at `root`/mlartifacts when it was made at another
    path (the working copy was moved or copied), so that it neither reads from nor writes into the
    old place. Returns the old locations it replaced."""
    database, here = root / "mlflow.db", (root / "mlartifacts").as_uri()
    if not database.is_file():
        return []
    with closing(sqlite3.connect(database)) as db, db:
        found = db.execute(
            "select distinct artifact_location from experiments where artifact_location like ?",
            ("%/mlartifacts",),
        )
        old = sorted({location for (location,) in found} - {here})
        tables = {name for (name,) in db.execute("select name from sqlite_master")}
        for location in old:
            for table, column in LOCATION_COLUMNS:
                if table in tables:
                    db.execute(
                        f"update {table} set {column} = ? || substr({column}, ?) "
                        f"where substr({column}, 1, ?) = ?",
                        (here, len(location) + 1, len(location), location),
                    )
    return old


def point_at_store() -> str:
    """Point MLflow at the project's store (which also exports it as MLFLOW_TRACKING_URI); a local
    store made at another path is relocated here first."""
    uri = tracking_uri()
    if uri == _local_uri():
        relocate_local_store(project_root())
    mlflow.set_tracking_uri(uri)
    return uri


def alias_version(uri: str, setting: str) -> tuple[str, str]:
    """(name, version) that a registry URI `models:/NAME@ALIAS` or `models:/NAME/VERSION` names in
    the project's store; one line saying what to do when it names nothing (e.g. no champion yet).
    `setting` says where the URI came from, for that line."""
    from mlflow import MlflowClient  # noqa: PLC0415
    from mlflow.exceptions import MlflowException  # noqa: PLC0415

    store = point_at_store()
    name, at, alias = uri.removeprefix("models:/").partition("@")
    if not at:
        name, _, version = name.partition("/")
        return name, version
    try:
        return name, str(MlflowClient().get_model_version_by_alias(name, alias).version)
    except MlflowException as err:
        raise InputError(
            f"{uri} ({setting}) names no model version in {store}: run `make repro` on the main "
            "branch (it registers and promotes the first model), or use this workspace's model "
            "directory (models/sales for leads)"
        ) from err


def source_commit(uri: str) -> str | None:
    """The git commit of the run that logged the model version a `models:/` URI names, if the
    store recorded one."""
    from mlflow import MlflowClient  # noqa: PLC0415

    name, version = alias_version(uri, "the model")
    client = MlflowClient()
    run_id = client.get_model_version(name, version).run_id
    return client.get_run(run_id).data.tags.get("mlflow.source.git.commit") if run_id else None


def experiment_id(name: str) -> str:
    """Point MLflow at the project's store and return the experiment's id (created if new)."""
    uri = point_at_store()
    experiment = mlflow.get_experiment_by_name(name)
    if experiment is not None:
        return experiment.experiment_id
    # A local store keeps artifacts beside it; a server decides for itself.
    location = (project_root() / "mlartifacts").as_uri() if uri == _local_uri() else None
    return mlflow.create_experiment(name, artifact_location=location)


def _git_commit() -> str | None:
    result = subprocess.run(
        ["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=False
    )
    return result.stdout.strip() or None


def data_hash(raw_path: str, lock_path: str | Path = "dvc.lock") -> str | None:
    """The md5 DVC recorded for a raw data file a stage reads (None before the first repro)."""
    lock = Path(lock_path)
    if not lock.is_file():
        return None
    stages = (yaml.safe_load(lock.read_text()) or {}).get("stages", {})
    for stage in stages.values():
        for dep in stage.get("deps", []):
            if dep.get("path") == raw_path:
                return dep.get("md5")
    return None


def run_tags(stage: str, family: str, raw_path: str) -> dict[str, str]:
    tags = {
        "leadsift.stage": stage,
        "leadsift.family": family,
        "mlflow.source.git.commit": _git_commit(),
        "leadsift.data_md5": data_hash(raw_path),
        "leadsift.dvc_experiment": os.environ.get("DVC_EXP_NAME"),
        "leadsift.dvc_baseline": os.environ.get("DVC_EXP_BASELINE_REV"),
    }
    return {k: v for k, v in tags.items() if v}


def flatten(params: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """Nested params as MLflow's flat `a.b.c` names (lists and values as text)."""
    flat: dict[str, str] = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = str(value)
    return flat


@contextmanager
def stage_run(experiment: str, stage: str, tags: Mapping[str, str]) -> Iterator[Run]:
    """An MLflow run for one stage execution."""
    with mlflow.start_run(
        experiment_id=experiment_id(experiment), run_name=stage, tags=dict(tags)
    ) as run:
        yield run


def run_of_model(experiment: str, model_uuid: str) -> Run:
    """The latest run that logged the model with this uuid."""
    runs = mlflow.search_runs(
        experiment_ids=[experiment_id(experiment)],
        filter_string=f"tags.`{MODEL_UUID_TAG}` = '{model_uuid}'",
        order_by=["attributes.start_time DESC"],
        max_results=1,
        output_format="list",
    )
    if not runs:
        raise LookupError(
            f"no MLflow run logged model {model_uuid} in {tracking_uri()}; "
            "run `dvc repro -f train` to log it"
        )
    return runs[0]


def logged_model_uri(experiment: str, model_dir: Path) -> str:
    """The URI of this model as logged by its training stage; if no run logged it (outputs pulled
    from a DVC remote, or a newly configured store), a `register` run logs the directory itself."""
    uuid = model_store.model_uuid(model_dir)
    try:
        return run_of_model(experiment, uuid).data.tags[MODEL_URI_TAG]
    except LookupError:
        pass
    tags = {"leadsift.stage": "register", MODEL_UUID_TAG: uuid}
    with stage_run(experiment, "register", tags) as run:
        mlflow.log_artifacts(str(model_dir), "model")
        uri = f"runs:/{run.info.run_id}/model"
        mlflow.set_tag(MODEL_URI_TAG, uri)
    return uri


def log_stage(
    experiment: str,
    stage: str,
    *,
    tags: Mapping[str, str],
    params: Mapping[str, Any],
    metrics: Mapping[str, Any],
    artifacts: Artifacts = (),
) -> Run:
    """One run for a stage execution: its params (flattened), numeric metrics and files."""
    with stage_run(experiment, stage, tags) as run:
        mlflow.log_params(flatten(params))
        mlflow.log_metrics(numeric(metrics))
        _log_artifacts(artifacts)
        return run


def log_training(
    experiment: str,
    *,
    tags: Mapping[str, str],
    params: Mapping[str, Any],
    metrics: Mapping[str, Any],
    pipeline: Pipeline,
    example: pd.DataFrame,
    model_dir: Path,
    trusted: Sequence[str],
    stage: str,
    predict_fn: str = "predict_proba",
) -> Run:
    """The training run: params, metrics and the model, tagged with the saved model's uuid."""
    uuid = model_store.model_uuid(model_dir)
    with stage_run(experiment, stage, {**tags, MODEL_UUID_TAG: uuid}) as run:
        mlflow.log_params(flatten(params))
        mlflow.log_metrics(numeric(metrics))
        uri = model_store.log_model(pipeline, example, trusted, predict_fn)
        mlflow.set_tag(MODEL_URI_TAG, uri)
        return run


def _log_artifacts(artifacts: Artifacts) -> None:
    for folder, path in artifacts:
        mlflow.log_artifact(str(path), artifact_path=folder)


def numeric(metrics: Mapping[str, Any], prefix: str = "") -> dict[str, float]:
    """The numbers in a (nested) metrics dict, with flat dotted names."""
    flat: dict[str, float] = {}
    for key, value in metrics.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(numeric(value, f"{name}."))
        elif isinstance(value, int | float) and not isinstance(value, bool):
            flat[name] = float(value)
    return flat


def log_to_model_run(
    experiment: str, model_dir: Path, metrics: Mapping[str, Any], artifacts: Artifacts = ()
) -> Run:
    """Add metrics and files to the run that logged this model (an evaluation stage adds its
    results)."""
    run = run_of_model(experiment, model_store.model_uuid(model_dir))
    with mlflow.start_run(run_id=run.info.run_id):
        mlflow.log_metrics(numeric(metrics))
        _log_artifacts(artifacts)
    return run

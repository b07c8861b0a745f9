"""Saving and loading the scoring pipeline in MLflow's model format.

The model directory is a DVC output, so it must be byte-identical when rebuilt from the same code,
data and params. MLflow stamps every saved model with a creation time and a random uuid; here the
time is pinned to `SOURCE_DATE_EPOCH` (the reproducible-builds convention, default 0) and the uuid
is derived from the model's own bytes. When and where a model was trained belongs to the MLflow run
that logs it, not to the artifact.

MLflow saves scikit-learn models with skops, a format that, unlike pickle, does not run code on
load and refuses types that are not trusted (each pipeline lists its own, e.g.
`leads.models.TRUSTED_TYPES`). skops names archive
members after Python object ids and stamps them with the wall-clock time, so `_canonical_skops`
renumbers the ids in order of appearance and fixes the timestamps; the loaded model is unchanged.

The model carries a copy of the `leadsift` modules its steps are defined in and what they import
(MLflow `code_paths`): it loads in any environment with its pinned pip requirements, without the
training code path, and its bytes change only when code the model runs changes.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import shutil
import sys
import tempfile
import uuid
import zipfile
from collections.abc import Sequence
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pandas as pd
import yaml
from sklearn.pipeline import Pipeline

from leadsift.core.imports import (
    PACKAGE_DIR,
    distribution,
    import_closure,
    imported_names,
    module_file,
)
from leadsift.core.io import InputError

# A LightGBM model's types: its scikit-learn estimator and the booster it holds (rebuilt from its
# model text by LightGBM's own parser, which a crafted file could abuse: trusted because a project
# loads only models it saved itself or took from its own registry)
LIGHTGBM_TYPES = ("lightgbm.basic.Booster", "lightgbm.sklearn.LGBMClassifier")
# What reads the model directory and its skops archive; pandas runs string operations in pyarrow
# when it is installed, as in training.
RUNTIME = ("mlflow", "skops", "pyarrow")


def requirements(trusted: Sequence[str]) -> list[str]:
    """The pinned distributions a saved model needs to load and run: `RUNTIME`, and every
    third-party package its code copy (`model_code`) or its trusted types import."""
    found = set(RUNTIME) | {name.rpartition(".")[0] for name in trusted}
    for source in model_code(trusted):
        found |= imported_names(source)
    own = {*sys.stdlib_module_names, PACKAGE_DIR.name, "__future__"}
    names = {distribution(module) for module in found if module.partition(".")[0] not in own}
    return [f"{name}=={version(name)}" for name in sorted(names)]


def model_code(trusted: Sequence[str]) -> list[Path]:
    """The package files a model needs: the modules of its trusted leadsift types, what they import
    (transitively), and the `__init__.py` of every package on the way."""
    seen = import_closure(f for name in trusted if (f := module_file(name.rpartition(".")[0])))
    folders = {d for f in seen for d in f.parents if d.is_relative_to(PACKAGE_DIR)}
    return sorted(seen | {d / "__init__.py" for d in folders if (d / "__init__.py").is_file()})


def _clean_package_copy(into: Path, trusted: Sequence[str]) -> Path:
    """Copy the .py files the model needs (no bytecode caches: they would break reproducibility)."""
    target = into / PACKAGE_DIR.name
    for source in model_code(trusted):
        copy = target / source.relative_to(PACKAGE_DIR)
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, copy)
    return target


def _renumber(node: object, ids: dict[int, int]) -> object:
    """Replace skops object ids (`__id__` values, `<id>.npy` names) by their first-seen rank."""
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "__id__" and isinstance(value, int):
                out[key] = ids.setdefault(value, len(ids))
            elif key == "file" and isinstance(value, str) and value.removesuffix(".npy").isdigit():
                out[key] = f"{ids.setdefault(int(value.removesuffix('.npy')), len(ids))}.npy"
            else:
                out[key] = _renumber(value, ids)
        return out
    if isinstance(node, list):
        return [_renumber(value, ids) for value in node]
    return node


def _canonical_skops(path: Path) -> None:
    """Rewrite a skops archive so that the same model always has the same bytes."""
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    ids: dict[int, int] = {}
    schema = _renumber(json.loads(members.pop("schema.json")), ids)
    renamed = {
        f"{ids[int(name.removesuffix('.npy'))]}.npy"
        if name.removesuffix(".npy").isdigit()
        else name: data
        for name, data in members.items()
    }
    renamed["schema.json"] = json.dumps(schema, indent=2).encode()
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
        for name in sorted(renamed):
            archive.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), renamed[name])


def _flavor_arguments(
    pipeline: Pipeline,
    example: pd.DataFrame,
    code_dir: Path,
    trusted: Sequence[str],
    predict_fn: str,
    *,
    signature: bool = True,
) -> dict[str, Any]:
    """What `save_model` and `log_model` both pass to mlflow.sklearn: one model format, two uses."""
    from mlflow.models import infer_signature  # noqa: PLC0415 - mlflow is slow to import

    # False is MLflow's word for no signature, not even one inferred from the example
    inferred = signature and infer_signature(example, getattr(pipeline, predict_fn)(example))
    return {
        "signature": inferred,
        "input_example": example,
        "pyfunc_predict_fn": predict_fn,
        "pip_requirements": requirements(trusted),
        "code_paths": [str(_clean_package_copy(code_dir, trusted))],
        "serialization_format": "skops",
        "skops_trusted_types": list(trusted),
    }


def save_model(
    pipeline: Pipeline,
    path: str | Path,
    example: pd.DataFrame,
    trusted: Sequence[str],
    predict_fn: str = "predict_proba",
    *,
    signature: bool = True,
) -> None:
    """Save a fitted estimator as an MLflow model whose pyfunc answers with `predict_fn`; skops
    will load only the `trusted` types beyond scikit-learn's own.

    With `signature`, the model carries one inferred from `example`, which MLflow shows, and which
    its pyfunc and scoring server cast and check every input by, column by column. Without it (a
    model that checks its own input), the input example still shows the columns."""
    import mlflow.sklearn  # noqa: PLC0415 - see _flavor_arguments
    from mlflow.models import Model  # noqa: PLC0415

    path = Path(path)
    created = datetime.fromtimestamp(int(os.environ.get("SOURCE_DATE_EPOCH", "0")), UTC)
    # pickle only serialises the fitted state to hash it; nothing is ever unpickled.
    digest = hashlib.sha256(pickle.dumps(pipeline, protocol=5)).digest()
    stamp = Model(
        utc_time_created=created.replace(tzinfo=None), model_uuid=uuid.UUID(bytes=digest[:16]).hex
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=f".{path.name}.") as tmp:
        staged = Path(tmp) / "model"
        arguments = _flavor_arguments(
            pipeline, example, Path(tmp), trusted, predict_fn, signature=signature
        )
        mlflow.sklearn.save_model(pipeline, staged, mlflow_model=stamp, **arguments)
        _canonical_skops(staged / "model.skops")
        meta = Model.load(staged)
        meta.model_size_bytes = sum(f.stat().st_size for f in staged.rglob("*") if f.is_file())
        meta.save(staged / "MLmodel")
        shutil.rmtree(path, ignore_errors=True)
        staged.rename(path)


def log_model(
    pipeline: Pipeline,
    example: pd.DataFrame,
    trusted: Sequence[str],
    predict_fn: str = "predict_proba",
    name: str = "model",
) -> str:
    """Log the pipeline to the active MLflow run in the same format; return its model URI."""
    import mlflow.sklearn  # noqa: PLC0415 - see _flavor_arguments

    with tempfile.TemporaryDirectory() as tmp:
        info = mlflow.sklearn.log_model(
            pipeline,
            name=name,
            **_flavor_arguments(pipeline, example, Path(tmp), trusted, predict_fn),
        )
    return info.model_uri


def model_uuid(path: str | Path) -> str:
    """The uuid `save_model` derived from the model's bytes: the same model, the same uuid."""
    meta = yaml.safe_load((Path(path) / "MLmodel").read_text())
    return meta["model_uuid"]


class UntrustedModelError(InputError):
    """A model directory this project will not load: what it says about itself could run code."""


# What `save_model` writes in MLmodel, and so all a model this project made may say: scikit-learn's
# flavor, read through MLflow's own loader module, from a skops archive next to MLmodel.
FLAVORS = {"python_function", "sklearn"}
LOADER_MODULE = "mlflow.sklearn"
ARCHIVE = "model.skops"


def local_model_dir(source: str | Path) -> Path:
    """The model directory `source` names: itself, or the files of a `models:/` or `runs:/` URI
    downloaded from the tracking store (downloading files runs nothing)."""
    if Path(source).is_dir():
        return Path(source)
    if ":/" not in str(source):
        raise InputError(f"{source}: no such model directory; pass one, or a models:/ URI")
    from mlflow.artifacts import download_artifacts  # noqa: PLC0415 - see _flavor_arguments

    return Path(download_artifacts(artifact_uri=str(source)))


def vetted_archive(model_dir: Path, source: str | Path) -> Path:
    """The skops archive of a model directory whose MLmodel says only what `save_model` writes;
    anything else (another serialisation such as pickle, another loader module, other flavors, an
    archive outside the directory) is refused with one line naming the model and the reason."""
    meta_file = model_dir / "MLmodel"
    if not meta_file.is_file():
        raise UntrustedModelError(f"{source}: not a model directory (no MLmodel file)")
    try:
        flavors = (yaml.safe_load(meta_file.read_text()) or {})["flavors"]
        sklearn, pyfunc = flavors["sklearn"], flavors["python_function"]
    except (KeyError, TypeError, yaml.YAMLError) as error:
        raise UntrustedModelError(
            f"{source}: MLmodel lacks {error}; not a leadsift model"
        ) from None
    problems = []
    if set(flavors) != FLAVORS:
        problems.append(f"flavors {sorted(flavors)} (expected {sorted(FLAVORS)})")
    if pyfunc.get("loader_module") != LOADER_MODULE:
        problems.append(f"loader module {pyfunc.get('loader_module')!r}")
    if sklearn.get("serialization_format") != "skops":
        problems.append(f"serialisation {sklearn.get('serialization_format')!r}")
    if sklearn.get("pickled_model") != ARCHIVE:
        problems.append(f"archive {sklearn.get('pickled_model')!r} (expected {ARCHIVE!r})")
    if problems:
        raise UntrustedModelError(
            f"{source}: refused, its MLmodel declares {'; '.join(problems)}: leadsift loads only "
            f"skops models read by {LOADER_MODULE}, with the types its own code trusts"
        )
    return model_dir / ARCHIVE


def load_model(source: str | Path, trusted: Sequence[str]) -> Any:
    """The one way a model is loaded: a model directory `save_model` wrote, or a `models:/` URI of
    the registry (its files downloaded first).

    The estimator is read straight from its skops archive, trusting only the `trusted` types the
    caller's pipeline declares; what the model's MLmodel says (a serialisation format, a loader
    module, a list of trusted types, code to put on the path) is checked, never followed, so a
    crafted model runs nothing. A directory loads without importing MLflow, which is slow to import.
    """
    import skops.io  # noqa: PLC0415 - only loading needs it

    archive = vetted_archive(local_model_dir(source), source)
    try:
        return skops.io.load(archive, trusted=list(trusted))
    except skops.io.exceptions.UntrustedTypesFoundException as error:
        raise UntrustedModelError(
            f"{source}: refused, it holds types this pipeline does not trust: {error.args[0]}"
        ) from None


def code_differences(model_dir: Path) -> list[str]:
    """The package modules a saved model carries (its `code/` copy) that differ from, or are
    missing in, the installed package: the code the model was saved with is not the code that
    would run it."""
    copy = model_dir / "code" / PACKAGE_DIR.name
    if not copy.is_dir():
        return [f"{model_dir}: no code copy"]
    differ = []
    for saved in sorted(copy.rglob("*.py")):
        name = saved.relative_to(copy).as_posix()
        installed = PACKAGE_DIR / name
        if not installed.is_file() or installed.read_bytes() != saved.read_bytes():
            differ.append(f"{PACKAGE_DIR.name}/{name}")
    return differ

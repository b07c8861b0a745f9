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

import ast
import functools
import hashlib
import json
import os
import pickle
import shutil
import sys
import tempfile
import uuid
import zipfile
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from importlib.metadata import packages_distributions, version
from pathlib import Path
from typing import Any

import pandas as pd
import yaml
from sklearn.pipeline import Pipeline

PACKAGE_DIR = Path(__file__).resolve().parents[1]  # the leadsift package
# What reads the model directory and its skops archive; pandas runs string operations in pyarrow
# when it is installed, as in training.
RUNTIME = ("mlflow", "skops", "pyarrow")


def requirements(trusted: Sequence[str]) -> list[str]:
    """The pinned distributions a saved model needs to load and run: `RUNTIME`, and every
    third-party package its code copy (`model_code`) or its trusted types import."""
    found = set(RUNTIME) | {name.rpartition(".")[0] for name in trusted}
    for source in model_code(trusted):
        found |= _imported_names(source)
    own = {*sys.stdlib_module_names, PACKAGE_DIR.name, "__future__"}
    names = {_distribution(module) for module in found if module.partition(".")[0] not in own}
    return [f"{name}=={version(name)}" for name in sorted(names)]


@functools.cache
def _installed() -> Mapping[str, list[str]]:
    """Top-level module -> the distributions that install it (reading them all takes ~0.3 s)."""
    return packages_distributions()


def _distribution(module: str) -> str:
    """The distribution that installs a (dotted) module: of those that install its top-level
    package, the one named like the module or one of its parents (mlflow's several, ruamel's
    namespace), else the first."""
    parts = module.split(".")
    found = _installed().get(parts[0], [parts[0]])
    prefixes = {".".join(parts[:i]) for i in range(1, len(parts) + 1)}
    return next((d for d in found if d.lower().replace("_", "-") in prefixes), found[0])


def _module_file(name: str) -> Path | None:
    """The file of a `leadsift.*` module (or package), None for anything else."""
    parts = name.split(".")
    if parts[0] != PACKAGE_DIR.name:
        return None
    base = PACKAGE_DIR.joinpath(*parts[1:])
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imported_names(source: Path) -> set[str]:
    """The dotted names `source` imports (absolute imports, as the package writes them): each
    module, and for `from m import x` also `m.x`, which may be a module itself."""
    found = set()
    for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.update([node.module, *(f"{node.module}.{alias.name}" for alias in node.names)])
    return found


def _imported_files(source: Path) -> set[Path]:
    """The package files `source` imports."""
    return {f for name in _imported_names(source) if (f := _module_file(name))}


def model_code(trusted: Sequence[str]) -> list[Path]:
    """The package files a model needs: the modules of its trusted leadsift types, what they import
    (transitively), and the `__init__.py` of every package on the way."""
    todo = [f for name in trusted if (f := _module_file(name.rpartition(".")[0]))]
    seen = set(todo)
    while todo:
        for found in _imported_files(todo.pop()) - seen:
            seen.add(found)
            todo.append(found)
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
    from mlflow.models import infer_signature  # noqa: PLC0415 - mlflow costs ~1.5 s to import

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


def load_model(path: str | Path, trusted: Sequence[str]) -> Pipeline:
    """Load a model directory `save_model` wrote, or a `models:/` URI from the registry.

    A directory is read straight from its skops archive, trusting only the `trusted` types the
    caller's pipeline declares (not the list in the model's MLmodel file, which a crafted model
    could widen),
    and without importing MLflow, which saves a stage about 2 s. Only load models this pipeline or
    its registry made.
    """
    if not Path(path).is_dir():
        import mlflow.sklearn  # noqa: PLC0415 - see _flavor_arguments

        return mlflow.sklearn.load_model(str(path))
    import skops.io  # noqa: PLC0415 - only loading needs it

    flavor = yaml.safe_load((Path(path) / "MLmodel").read_text())["flavors"]["sklearn"]
    if flavor.get("serialization_format") != "skops":
        raise ValueError(
            f"{path}: the model is serialised as {flavor.get('serialization_format')!r}; "
            "leadsift saves and loads skops models only"
        )
    return skops.io.load(Path(path) / flavor["pickled_model"], trusted=list(trusted))

"""Nothing loaded from a file runs code: a model whose MLmodel asks for pickle, widens the trusted
types, names its own loader module or carries other code than the checkout's is refused by every
path that loads a model (the loader itself, `make serve`, the score stage, the promotion gate's
comparison with a champion), with one line naming the model and the reason, and the code it
carries never runs (its marker file is never written)."""

from __future__ import annotations

import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import mlflow
import pytest
import skops.io
import yaml

from leadsift.core import tracking
from leadsift.core.config import PARAMS_FILES, write_overrides
from leadsift.core.model_store import UntrustedModelError, load_model
from leadsift.leads.evaluation import champion_comparison
from leadsift.leads.models import TRUSTED_TYPES
from leadsift.leads.schema import raw_records
from tests.conftest import ROOT
from tests.crafted import Payload
from tests.server import free_port

CRAFTS = ("pickle", "widened_trust", "loader_module", "code_copy")


class Exploit:
    """Unpickled, it writes the marker: what a pickle-serialised model can do."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return exec, (f"open({str(self.marker)!r}, 'w').write('ran')",)


def _edit_mlmodel(model: Path, edit) -> None:
    meta = yaml.safe_load((model / "MLmodel").read_text())
    edit(meta["flavors"])
    (model / "MLmodel").write_text(yaml.safe_dump(meta))


def crafted(genuine: Path, kind: str, where: Path) -> tuple[Path, Path]:
    """A copy of a genuine model directory, crafted to run code when loaded, and its marker."""
    model, marker = where / kind, where / f"{kind}.ran"
    shutil.copytree(genuine, model)
    if kind == "pickle":
        (model / "model.pkl").write_bytes(pickle.dumps(Exploit(marker)))

        def edit(flavors):
            flavors["sklearn"].update(serialization_format="pickle", pickled_model="model.pkl")
    elif kind == "widened_trust":
        skops.io.dump(Payload(str(marker)), model / "model.skops")

        def edit(flavors):
            flavors["sklearn"]["skops_trusted_types"].append("tests.crafted.Payload")
    elif kind == "loader_module":
        (model / "code" / "crafted_loader.py").write_text(
            f"open({str(marker)!r}, 'w').write('ran')\n"
        )

        def edit(flavors):
            flavors["python_function"]["loader_module"] = "crafted_loader"
    else:  # code_copy: a module of the model's code copy replaced by a payload
        sales = model / "code" / "leadsift" / "leads" / "sales.py"
        sales.write_text(f"open({str(marker)!r}, 'w').write('ran')\n" + sales.read_text())

        def edit(flavors):
            pass

    _edit_mlmodel(model, edit)
    return model, marker


@pytest.fixture(scope="module")
def models(saved_sales, tmp_path_factory) -> dict[str, tuple[Path, Path]]:
    where = tmp_path_factory.mktemp("crafted")
    return {kind: crafted(saved_sales[1], kind, where) for kind in CRAFTS}


@pytest.mark.parametrize("kind", CRAFTS[:3])
def test_the_loader_refuses_a_crafted_model(models, kind):
    model, marker = models[kind]
    with pytest.raises(UntrustedModelError, match=rf"^{model}: refused, ") as refused:
        load_model(model, TRUSTED_TYPES)
    assert "\n" not in str(refused.value) and not marker.exists()


def test_the_code_copy_of_a_model_never_runs(models, saved_sales):
    model, marker = models["code_copy"]
    loaded = load_model(model, TRUSTED_TYPES)  # the installed package's code, not the copy's
    assert type(loaded).__module__ == "leadsift.leads.sales" and not marker.exists()


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT}"}
    return subprocess.run(
        [sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )


@pytest.mark.parametrize("kind", CRAFTS)
def test_make_serve_refuses_a_crafted_model_in_one_line(models, kind, tmp_path):
    model, marker = models[kind]
    for name in PARAMS_FILES:
        shutil.copy(ROOT / name, tmp_path / name)
    done = _run(
        ["-m", "leadsift.serve", "--model", str(model), "--port", str(free_port())], tmp_path
    )
    errors = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    assert done.returncode == 2 and len(errors) == 1, done.stderr[-2000:]
    assert str(model) in errors[0] and "Traceback" not in done.stderr
    reason = "other code than this checkout's" if kind == "code_copy" else "refused, "
    assert reason in errors[0] and not marker.exists()


@pytest.mark.parametrize("kind", CRAFTS[:3])
def test_the_score_stage_refuses_a_crafted_model(models, kind, tmp_path, prepared, roles):
    model, marker = models[kind]
    for name in PARAMS_FILES:
        shutil.copy(ROOT / name, tmp_path / name)
    write_overrides(tmp_path, {"leads_score.model": str(model)})
    (tmp_path / "batches").mkdir()
    raw_records(prepared, roles).head(5).to_csv(tmp_path / "batches/2026-01.csv", index=False)
    done = _run([str(ROOT / "stages/leads/score.py"), "batches", "out", "out/s.json"], tmp_path)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr[-2000:]
    assert f"error: {model}: refused, " in done.stderr and not marker.exists()


@pytest.fixture(scope="module")
def compare_with(saved_model, prepared, roles):
    """The lead gate's comparison of the saved model with a champion, on the prepared leads."""
    gate = {"n_bootstrap": 10, "confidence": 0.9, "seed": 0}
    records = raw_records(prepared, roles)
    return champion_comparison(saved_model[0], records, prepared[roles.target], gate)


@pytest.mark.parametrize("kind", CRAFTS[:3])
def test_the_gate_refuses_a_crafted_champion(models, kind, tmp_path, monkeypatch, compare_with):
    """A crafted model registered as champion: the gate's comparison refuses to load it."""
    model, marker = models[kind]
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    tracking.point_at_store()
    experiment = mlflow.create_experiment("crafted", (tmp_path / "artifacts").as_uri())
    with mlflow.start_run(experiment_id=experiment) as run:
        mlflow.log_artifacts(str(model), "model")
    name = f"crafted-{kind}"
    version = mlflow.register_model(f"runs:/{run.info.run_id}/model", name).version
    mlflow.MlflowClient().set_registered_model_alias(name, "champion", version)
    with pytest.raises(UntrustedModelError, match=rf"models:/{name}@champion: refused, "):
        compare_with(f"models:/{name}@champion")
    assert not marker.exists()

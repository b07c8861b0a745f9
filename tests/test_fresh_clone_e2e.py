"""A new user's first hour: a fresh clone, `make repro`, then `make serve` answers raw records.

The clone has git only (no DVC cache, no remote): `make repro` rebuilds every stage whose outputs
live in the DVC cache, and must rebuild them byte-identical (dvc.lock and every committed output
unchanged): the two-clean-builds check of the whole project. DVC skips `register` in a fresh clone
(its committed output is up to date), so the clone's empty MLflow store would have no champion;
`make repro` runs the gate for a model the store has never seen.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from leadsift.leads import synth
from leadsift.leads.synth import Dirt, generate_leads
from tests.conftest import WORLD_7
from tests.repo import Repo
from tests.server import post, serving

pytestmark = pytest.mark.e2e
VENV = Path(sys.executable).parent.parent


@pytest.fixture(scope="module")
def clone(baseline, tmp_path_factory) -> Repo:
    path = tmp_path_factory.mktemp("fresh") / "leadsift"
    subprocess.run(["git", "clone", "-q", str(baseline.repo.path), str(path)], check=True)
    repo = Repo.__new__(Repo)
    repo.path = path
    return repo


def make(repo: Repo, target: str) -> subprocess.CompletedProcess:
    """A Makefile target with this test's environment as the venv (-o: no reinstall)."""
    return repo.run("make", "-o", f"{VENV}/.runtime", target, f"VENV={VENV}")


def test_without_a_champion_serving_says_what_to_run(clone):
    result = clone.run(sys.executable, "-m", "leadsift.serve", check=False)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "run `make repro` on the main branch" in errors[0], result.stderr


def test_make_repro_registers_the_champion_and_ends_with_a_summary(clone):
    out = make(clone, "repro").stdout
    summary = out[out.index("Junk-lead classifier") :].splitlines()
    assert len(summary) <= 32
    assert "promotion: promoted: version 1 is the champion" in out
    assert "incoming batch(es)" in out.split("drift: ", 1)[1].splitlines()[0]
    assert "Report: reports/report.md" in out
    # Rebuilt byte-identical, and the gates' verdicts are the committed ones: nothing changed.
    assert "Running stage 'customers_train'" in out and "Running stage 'leads_train'" in out
    assert clone.run("git", "status", "--porcelain").stdout == ""
    again = make(clone, "repro").stdout
    assert "Running stage" not in again and "running the gate" not in again


def test_make_serve_answers_raw_records_with_the_champion(clone):
    clean = Dirt(**dict.fromkeys(Dirt.__dataclass_fields__, 0.0))  # leads that meet the contract
    batch, _ = generate_leads(3, **WORLD_7, sample_seed=5, dirt=clean, id_offset=7000)
    records = batch.drop(columns=synth.TARGET).astype(str).to_dict("records")
    with serving(clone.path, env=clone.env) as base:
        status, body = post(f"{base}/invocations", {"dataframe_records": records})
    assert status == 200
    answer = pd.DataFrame(body["predictions"])
    assert len(answer) == 3 and answer["probability"].between(0, 1).all()
    assert (
        set(answer["tier"]) <= {"hot", "warm", "cold"} and answer["raises_1"].str.len().gt(0).all()
    )

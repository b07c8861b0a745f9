"""A `dvc repro` killed with SIGKILL mid-stage recovers: rerunning it gives the same outputs."""

from __future__ import annotations

import os
import signal
import subprocess

import pytest

from tests.repo import Repo

pytestmark = pytest.mark.e2e
TRIALS = "reports/tuning/trials.csv"  # wall-time column, excluded from byte comparisons


def kill_during(repo: Repo, stage: str, marker: str, env: dict[str, str] | None = None) -> None:
    """Start `dvc repro -f -s STAGE`; SIGKILL it and the stage's python once the stage prints
    `marker`."""
    process = subprocess.Popen(
        ["dvc", "repro", "-f", "-s", stage],
        cwd=repo.path,
        env={**repo.env, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    seen = []
    for line in process.stdout:
        seen.append(line)
        if marker in line:
            os.killpg(process.pid, signal.SIGKILL)
            break
    process.wait()
    assert any(marker in line for line in seen), "".join(seen)


@pytest.mark.parametrize(
    ("stage", "marker"),
    [
        ("leads_prepare", "rows from"),
        ("leads_tune", "Trial 1 finished"),
        ("leads_train", "fitting"),
    ],
)
def test_a_killed_stage_is_rebuilt_identically(baseline, tmp_path, stage, marker):
    repo = Repo.copy_of(baseline.repo, tmp_path / stage)
    kill_during(repo, stage, marker)
    status = repo.run("dvc", "status", stage, check=False).stdout
    assert "up to date" not in status, status  # the killed stage left no result DVC accepts
    # What a user does: DVC restores the last good outputs recorded in dvc.lock from its cache.
    repo.repro()
    assert outputs(repo) == outputs(baseline)
    # And the stage itself, really run again over whatever the kill left behind, writes them anew.
    assert repo.repro("-f", "-s", stage) == [stage]
    assert outputs(repo) == outputs(baseline)
    assert "up to date" in repo.run("dvc", "status").stdout


def test_a_stage_killed_while_writing_leaves_no_partial_output(baseline, tmp_path):
    """The kill lands while prepare writes its clean table (a test hook holds the write between
    the temporary file and the move into place): no partial table exists, only the temporary
    file, and the next run of the stage clears it and writes the table anew."""
    repo = Repo.copy_of(baseline.repo, tmp_path / "mid_write")
    table = repo.path / "data/interim/leads.parquet"
    kill_during(repo, "leads_prepare", f"writing {table.relative_to(repo.path)}",
                env={"LEADSIFT_PAUSE_WRITE": "interim/leads.parquet"})  # fmt: skip
    assert not table.exists()
    assert list(table.parent.glob(".leads.parquet.*.tmp")), "the kill did not land mid-write"
    assert repo.repro("-f", "-s", "leads_prepare") == ["leads_prepare"]
    assert not list(table.parent.glob(".leads.parquet.*.tmp"))
    assert outputs(repo) == outputs(baseline)


def outputs(built) -> dict[str, str]:
    """Output hashes in dvc.lock, but for the tuning trials' wall times."""
    recorded = built.lock_outs() if isinstance(built, Repo) else built.outs
    return {path: md5 for path, md5 in recorded.items() if path != TRIALS}

"""Sharing results: the pull-request report, and DVC data through a Google Cloud Storage remote."""

from __future__ import annotations

import hashlib
import json
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.repo import Repo
from tests.server import free_port

pytestmark = pytest.mark.e2e
VENV = Path(sys.executable).parent.parent


def test_make_pr_report_builds_what_a_pull_request_gets(baseline, tmp_path):
    repo = Repo.copy_of(baseline.repo, tmp_path / "pr")
    repo.run("git", "checkout", "-q", "-b", "fewer-levels-lower-recall")
    repo.update_params({"business.min_genuine_recall": 0.9, "train.coverage": 0.8})
    repo.commit("a pull request's change")
    # The workflow's own step, minus posting; -o: use this test's environment as it is.
    repo.run("make", "-o", f"{VENV}/.runtime", "pr-report", f"VENV={VENV}", "BASE=main")
    report = (repo.path / "reports/pr_report.md").read_text()
    assert report.startswith("# leadsift model report")
    assert "## Metrics compared with main" in report and "junk_filtered" in report
    assert "## Params compared with main" in report and "business.min_genuine_recall" in report
    assert "| 0.95 " in report and "| 0.9 " in report and "train.coverage" in report
    assert (
        "![ROC curve](figures/roc.png)" in report
        and (repo.path / "reports/figures/roc.png").is_file()
    )
    # The reviewer sees the gate's verdict; the champion does not move.
    promotion = json.loads((repo.path / "reports/promotion.json").read_text())
    assert promotion["promotion"] == {"on": False, "why": "LEADSIFT_PROMOTION=off"}
    assert not promotion["applied"] and promotion["decision"] in ("promoted", "challenger")
    assert (
        "would be promoted" if promotion["would_promote"] else "would stay challenger"
    ) in report
    customers = json.loads((repo.path / "reports/customers/promotion.json").read_text())
    assert customers["promotion"] == promotion["promotion"] and not customers["applied"]
    assert "## Revenue forecast" in report
    with sqlite3.connect(repo.path / "mlflow.db") as db:
        versions = db.execute("select name, version from model_versions order by name").fetchall()
        champion = db.execute("select name, version from registered_model_aliases").fetchall()
    assert versions == [
        ("leadsift-click-attribution", 1),
        ("leadsift-customer-segments", 1),
        ("leadsift-junk-lead", 1),
    ]
    assert sorted(champion) == versions


def digests(root: Path, paths: list[str]) -> dict[str, str]:
    return {p: hashlib.sha256((root / p).read_bytes()).hexdigest() for p in paths}


@pytest.fixture
def gcs_emulator():
    """A real GCS API server (gcp-storage-emulator) on loopback, with an empty bucket."""
    port = free_port()
    process = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gcp-storage-emulator"),
            "start",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--default-bucket",
            "leadsift-test",
            "--in-memory",
            "--quiet",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.2)
    else:
        process.kill()
        pytest.fail("the GCS emulator did not start")
    yield f"http://127.0.0.1:{port}"
    process.terminate()
    process.wait(timeout=10)


def test_dvc_push_and_pull_through_a_gcs_remote(baseline, tmp_path, gcs_emulator, monkeypatch):
    monkeypatch.setenv("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")  # else gcsfs tries gRPC
    repo = Repo.copy_of(baseline.repo, tmp_path / "gcs")
    outputs = [
        "data/raw/leads.csv",
        "data/raw/truth.parquet",
        "data/interim/leads.parquet",
        "data/interim/quarantine.parquet",
        "data/processed/features.parquet",
    ]
    before = digests(repo.path, outputs)
    repo.run("dvc", "remote", "add", "-d", "gcs", "gs://leadsift-test/cache")
    repo.run("dvc", "remote", "modify", "--local", "gcs", "endpointurl", gcs_emulator)
    repo.run("dvc", "remote", "modify", "--local", "gcs", "allow_anonymous_login", "true")
    repo.run("dvc", "push", "--with-deps", "leads_featurize")

    shutil.rmtree(repo.path / ".dvc" / "cache")
    for path in outputs:
        (repo.path / path).unlink()
    repo.run("dvc", "pull", "--with-deps", "leads_featurize")
    assert digests(repo.path, outputs) == before
    assert "up to date" in repo.run("dvc", "status", "leads_featurize").stdout

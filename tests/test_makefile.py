"""The Makefile's venv: made once per place, since a venv does not survive being moved."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from tests.conftest import ROOT


def dry_install(folder: Path) -> subprocess.CompletedProcess:
    """`make -n install` in `folder`: what it would run (its parse-time checks do run)."""
    return subprocess.run(
        ["make", "-n", "install"], cwd=folder, capture_output=True, text=True, check=True
    )


def working_copy(folder: Path, stamp: str) -> Path:
    """A working copy's Makefile and inputs, with a built venv whose stamp says `stamp`."""
    folder.mkdir()
    for name in ("Makefile", "requirements.txt", "pyproject.toml"):
        shutil.copy(ROOT / name, folder / name)
    (folder / ".venv/bin").mkdir(parents=True)
    (folder / ".venv/.runtime").write_text(stamp + "\n")
    return folder


def test_a_venv_made_here_is_kept(tmp_path):
    here = working_copy(tmp_path / "here", f"{tmp_path.resolve()}/here/.venv/bin")
    result = dry_install(here)
    assert (here / ".venv/.runtime").exists()
    assert "making it again" not in result.stdout and "pip install" not in result.stdout


def test_a_moved_working_copy_makes_its_venv_again(tmp_path):
    moved = working_copy(tmp_path / "moved", "/old/place/.venv/bin")
    result = dry_install(moved)
    assert ".venv was made for /old/place/.venv/bin: making it again here" in result.stdout
    assert not (moved / ".venv").exists()
    assert "-m venv .venv" in result.stdout and "--no-deps -e ." in result.stdout

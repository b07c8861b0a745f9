"""Stage scripts meet bad input with one clear line and exit status 2, never a traceback."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from leadsift.core.config import PARAMS_FILES, write_overrides
from leadsift.leads import synth

ROOT = Path(__file__).resolve().parents[1]
LIBRARY = ROOT / "src" / "leadsift"


def run_prepare(tmp_path: Path, raw: str) -> subprocess.CompletedProcess:
    for name in PARAMS_FILES:
        shutil.copy(ROOT / name, tmp_path / name)
    write_overrides(tmp_path, {"leads.raw_path": raw})
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    return subprocess.run(
        [sys.executable, str(ROOT / "stages/leads/prepare.py"), raw, "out", "out/data.json"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "leads.csv: file not found; set `leads.raw_path` in config.yaml"),
        ("", "leads.csv: file is empty"),
        ("lead_id,city\n", "leads.csv: header only, no rows"),
        ("lead_id,city\nLD1,Pune\n", "leads.csv: missing column(s) 'platform' (leads.categorical)"),
    ],
)
def test_prepare_explains_unusable_input_in_one_line(tmp_path, content, expected):
    if content is not None:
        (tmp_path / "leads.csv").write_text(content)
    result = run_prepare(tmp_path, "leads.csv")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and expected in lines[0], result.stderr
    assert not (tmp_path / "out").exists()


def test_missing_column_message_says_where_it_is_declared(tmp_path):
    (tmp_path / "leads.csv").write_text("lead_id,city\nLD1,Pune\n")
    message = run_prepare(tmp_path, "leads.csv").stderr
    assert (
        "'chat_clicks' (leads.interaction_groups.assistance)" in message
        and "whatsapp" not in message
    )
    assert (
        "and 39 more declared in config.yaml" in message
        and "the file has: lead_id, city." in message
    )


def test_no_library_module_names_a_column_of_the_default_dataset():
    """Column names belong to config.yaml (and the generator that writes the default data)."""
    names = {
        synth.ID,
        synth.TIMESTAMP,
        synth.TARGET,
        *synth.CATEGORICAL,
        *synth.OTHER_NUMERIC,
        *synth.INTERACTIONS,
    }
    for module in sorted(LIBRARY.rglob("*.py")):
        if module.name == "synth.py":
            continue
        text = module.read_text()
        found = sorted(n for n in names if f'"{n}"' in text or f"'{n}'" in text)
        assert not found, f"{module.name} hard-codes {found}"


@pytest.mark.parametrize(
    ("batches", "expected"),
    [
        (None, "batches: not a directory; set `leads_score.input`"),
        ([], "batches: no .csv or .parquet batch files"),
        ([("2026-01.csv", "lead_id,city\nLD1,Pune\n")], "missing column(s)"),
    ],
)
def test_score_stops_on_a_bad_batch_directory_with_one_line(
    tmp_path, saved_sales, batches, expected
):
    for name in PARAMS_FILES:
        shutil.copy(ROOT / name, tmp_path / name)
    write_overrides(tmp_path, {"leads_score.model": str(saved_sales[1])})
    if batches is not None:
        (tmp_path / "batches").mkdir()
        for name, text in batches:
            (tmp_path / "batches" / name).write_text(text)
    done = subprocess.run(
        [sys.executable, str(ROOT / "stages/leads/score.py"), "batches", "out", "out/score.json"],
        cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr[-1500:]
    assert expected in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "out/score.json").exists()

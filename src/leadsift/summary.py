"""The few lines `make repro` ends with: headline numbers against the ceiling, the promotion and
drift verdicts, and where the full report is.

    python -m leadsift.summary
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from leadsift.core.cli import run_stage
from leadsift.core.config import read_params
from leadsift.core.io import InputError
from leadsift.leads.report import render_summary

REPORTS = Path("reports")


def _read(name: str) -> dict[str, Any] | None:
    path = REPORTS / name
    return json.loads(path.read_text()) if path.is_file() else None


def main() -> None:
    evaluation, data = _read("evaluation.json"), _read("data.json")
    if evaluation is None or data is None:
        raise InputError("no results yet in reports/: run `make repro` (or `dvc repro`) first")
    print(
        render_summary(
            evaluation,
            data,
            promotion=_read("promotion.json"),
            drift=_read("drift.json"),
            family=read_params()["model"]["family"],
        )
    )


if __name__ == "__main__":
    run_stage(main)

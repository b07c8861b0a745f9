"""The lines `make repro` ends with: each pipeline's headline numbers against their ceilings,
the promotion and drift verdicts, and where the full report is.

    python -m leadsift.summary
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from leadsift.clicks.report import summary_lines as clicks_lines
from leadsift.core.cli import run_stage
from leadsift.core.config import read_params
from leadsift.core.io import InputError
from leadsift.customers.market_report import market_summary_lines
from leadsift.customers.report import summary_lines
from leadsift.leads.report import render_summary

REPORTS = Path("reports")


def _read(name: str) -> dict[str, Any] | None:
    path = REPORTS / name
    return json.loads(path.read_text()) if path.is_file() else None


def main() -> None:
    evaluation, data = _read("evaluation.json"), _read("data.json")
    if evaluation is None or data is None:
        raise InputError("no results yet in reports/: run `make repro` (or `dvc repro`) first")
    lines = render_summary(
        evaluation,
        data,
        promotion=_read("promotion.json"),
        drift=_read("drift.json"),
        family=read_params()["model"]["family"],
    ).splitlines()
    segments, features = _read("customers/segments.json"), _read("customers/features.json")
    if segments and features:
        customers = summary_lines(
            segments,
            features,
            _read("customers/drift.json"),
            _read("customers/promotion.json"),
            _read("customers/forecast.json"),
            stability=(_read("customers/train.json") or {}).get("stability"),
            min_stability=read_params()["customers_register"]["min_stability"],
        )
        lines[-2:-2] = customers  # before the report's and next steps' lines
    market, drivers = _read("customers/market.json"), _read("customers/drivers.json")
    if market and drivers:
        lines[-2:-2] = market_summary_lines(market, drivers)
    evaluation = _read("clicks/evaluation.json")
    if evaluation:
        lines[-2:-2] = clicks_lines(
            evaluation,
            _read("clicks/leak.json"),
            _read("clicks/promotion.json"),
            _read("clicks/drift.json"),
        )
    profiles = [(n, _read(f"profile/{n}.json")) for n in ("leads", "transactions", "clicks")]
    if found := [f"{name} {len(p['warnings'])}" for name, p in profiles if p]:
        lines[-2:-2] = [f"Data profiles: warnings in {', '.join(found)} (reports/profile/*.md)"]
    print("\n".join(lines))


if __name__ == "__main__":
    run_stage(main)

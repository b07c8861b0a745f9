"""Stage report: reports/report.md, the Markdown summary a reviewer reads (and a PR shows)."""

import argparse
import json
from pathlib import Path

from leadsift.cli import run_stage
from leadsift.config import load_params
from leadsift.io import write_text
from leadsift.report import render_report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("reports", help="reports directory (inputs and the report)")
    args = parser.parse_args()
    reports = Path(args.reports)

    def read(name: str) -> dict:
        return json.loads((reports / name).read_text())

    text = render_report(
        read("metrics.json"),
        read("data.json"),
        tuning=read("tuning.json"),
        promotion=read("promotion.json"),
        family=load_params()["model"]["family"],
        drift=read("drift.json"),
    )
    write_text(reports / "report.md", text)


if __name__ == "__main__":
    run_stage(main)

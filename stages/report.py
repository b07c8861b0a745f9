"""Stage report: reports/report.md, the Markdown summary a reviewer reads (and a PR shows), and
reports/metrics.json, the headline numbers `dvc exp show` and `dvc metrics diff` compare."""

import argparse
import json
from pathlib import Path

from leadsift.core.cli import run_stage
from leadsift.core.config import load_params
from leadsift.core.io import write_json, write_text
from leadsift.leads.params import RULES
from leadsift.leads.report import headline_metrics, render_report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("reports", help="reports directory (inputs and the report)")
    args = parser.parse_args()
    reports = Path(args.reports)

    def read(name: str) -> dict:
        return json.loads((reports / name).read_text())

    evaluation, drift = read("evaluation.json"), read("drift.json")
    text = render_report(
        evaluation,
        read("data.json"),
        tuning=read("tuning.json"),
        promotion=read("promotion.json"),
        family=load_params(RULES)["model"]["family"],
        drift=drift,
    )
    write_text(reports / "report.md", text)
    write_json(reports / "metrics.json", headline_metrics(evaluation, drift), sort_keys=False)


if __name__ == "__main__":
    run_stage(main)

"""Stage report: reports/report.md, the Markdown report a reviewer reads (and a pull request shows)
with a part per pipeline, and reports/metrics.json, the headline numbers of every pipeline that
`dvc exp show` and `dvc metrics diff` compare."""

import argparse
import json
from pathlib import Path

from leadsift.clicks import report as clicks
from leadsift.clicks.param_rules import RULES as CLICKS
from leadsift.core.cli import run_stage
from leadsift.core.config import load_params
from leadsift.core.io import write_json, write_text
from leadsift.customers import report as customers
from leadsift.customers.param_rules import RULES as CUSTOMERS
from leadsift.leads import report as leads
from leadsift.leads.param_rules import RULES as LEADS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("reports", help="reports directory (inputs and the report)")
    args = parser.parse_args()
    reports = Path(args.reports)

    def read(name: str) -> dict:
        return json.loads((reports / name).read_text())

    params = load_params({**LEADS, **CUSTOMERS, **CLICKS})
    evaluation, drift = read("evaluation.json"), read("drift.json")
    segments, tuning = read("customers/segments.json"), read("customers/tuning.json")
    forecast = read("customers/forecast.json")
    market, drivers = read("customers/market.json"), read("customers/drivers.json")
    leads_profile = read("profile/leads.json")
    transactions_profile = read("profile/transactions.json")
    text = (
        leads.render_report(
            evaluation,
            read("data.json"),
            tuning=read("tuning.json"),
            promotion=read("promotion.json"),
            family=params["model"]["family"],
            drift=drift,
            profile=leads_profile,
        )
        + "\n"
        + customers.render_section(
            segments,
            data=read("customers/data.json"),
            features=read("customers/features.json"),
            tuning=tuning,
            train=read("customers/train.json"),
            promotion=read("customers/promotion.json"),
            drift=read("customers/drift.json"),
            forecast=forecast,
            profile=transactions_profile,
            market=market,
            drivers=drivers,
            min_stability=params["customers_register"]["min_stability"],
        )
        + "\n"
        + clicks.render_section(
            read("clicks/evaluation.json"),
            data=read("clicks/data.json"),
            tuning=read("clicks/tuning.json"),
            train=read("clicks/train.json"),
            leak=read("clicks/leak.json"),
            promotion=read("clicks/promotion.json"),
            drift=read("clicks/drift.json"),
            profile=read("profile/clicks.json"),
        )
    )
    write_text(reports / "report.md", text)
    headline = leads.headline_metrics(evaluation, drift, leads_profile)
    headline |= customers.headline_metrics(
        segments, tuning, forecast, transactions_profile, drivers=drivers
    )
    headline |= clicks.headline_metrics(read("clicks/evaluation.json"), read("profile/clicks.json"))
    write_json(reports / "metrics.json", headline, sort_keys=False)


if __name__ == "__main__":
    run_stage(main)

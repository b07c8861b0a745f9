"""Stage customers_monitor: drift of each later month's customers against the training customers,
and whether to segment anew (leadsift.customers.monitoring); the features that move with the
calendar (`customers_monitor.calendar_features`) are shown but do not alert. Writes
reports/customers/drift.json, reports/customers/monitor/drift.csv and drift.png."""

import argparse
import logging
from pathlib import Path

import pandas as pd

from leadsift.core.cli import run_stage
from leadsift.core.config import load_params
from leadsift.core.io import write_csv, write_json
from leadsift.core.monitoring import drift_table
from leadsift.core.plots import drift_figure, save_figure
from leadsift.customers import monitoring
from leadsift.customers.param_rules import RULES

log = logging.getLogger("leadsift.customers.monitor")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("assigned", help="directory of assigned months (customers_assign)")
    parser.add_argument("customers", help="training customer features (parquet)")
    parser.add_argument("segments", help="training customers' segments (CSV)")
    parser.add_argument("report", help="drift JSON to write")
    parser.add_argument("out_dir", help="directory for drift.csv and drift.png")
    args = parser.parse_args()
    params = load_params(RULES)
    settings, features = params["customers_monitor"], params["segment_setup"]["features"]
    reference = pd.read_parquet(args.customers).merge(
        pd.read_csv(args.segments, dtype={"customer_id": "str"}), on="customer_id"
    )
    months = {}
    for path in sorted(Path(args.assigned).glob("*.parquet")):
        table = monitoring.month_drift(reference, pd.read_parquet(path), features, settings["bins"])
        alerts = monitoring.month_alerts(table, settings)
        months[path.stem] = {"alerts": alerts, "subjects": table.to_dict(orient="index")}
        log.info("%s: %s", path.stem, "; ".join(alerts) or "no drift alert")
    report = monitoring.drift_report(months, settings)
    write_json(args.report, report)
    table = drift_table(report)
    write_csv(Path(args.out_dir) / "drift.csv", table, float_format="%.6g")
    figure = drift_figure(table, settings["psi_alert"], top=len(features), summary="segments")
    save_figure(figure, Path(args.out_dir) / "drift.png")


if __name__ == "__main__":
    run_stage(main)

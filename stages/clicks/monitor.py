"""Stage clicks_monitor: drift of the later days' clicks against the test day, the last on which the
model was shown to hold, and whether to retrain (leadsift.clicks.monitoring):
reports/clicks/drift.json, a table and a heatmap. Where the later days' files carry labels, the
installs observed against those predicted."""

import argparse
import logging
from pathlib import Path

from leadsift.clicks import engine
from leadsift.clicks.cleaning import input_files, later_labels_sql
from leadsift.clicks.model import TRUSTED_TYPES
from leadsift.clicks.monitoring import SCORES, drift_report, label_outcome
from leadsift.clicks.param_rules import RULES
from leadsift.clicks.schema import ClickRoles
from leadsift.clicks.scoring import unlabelled_days
from leadsift.clicks.training import labelled_days, split_days
from leadsift.core.cli import run_stage
from leadsift.core.config import load_params
from leadsift.core.io import write_csv, write_json
from leadsift.core.model_store import load_model
from leadsift.core.monitoring import drift_table
from leadsift.core.plots import drift_figure, save_figure

log = logging.getLogger("leadsift.clicks.monitor")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("model_dir", help="the served click model (models/clicks)")
    parser.add_argument("features", help="the clicks with their features (Parquet)")
    parser.add_argument("incoming", help="the later days' files, `clicks.incoming`")
    parser.add_argument("scored", help="folder of the later days' scored clicks")
    parser.add_argument("report", help="drift JSON to write")
    parser.add_argument("out_dir", help="folder for drift.csv and drift.png")
    args = parser.parse_args()
    params = load_params(RULES)
    settings = params["clicks_monitor"]
    model = load_model(args.model_dir, TRUSTED_TYPES)
    with engine.connect(engine.EngineSettings.from_params(params["clicks_engine"])) as connection:
        features = engine.parquet_source([Path(args.features)])
        split = split_days(labelled_days(connection, features), params["clicks_split"])
        later = unlabelled_days(connection, features)
        reference = list(split.test)
        report = drift_report(
            connection, model, features, settings, reference_days=reference, later_days=later
        )
        roles = ClickRoles.from_params(params["clicks"])
        labels = later_labels_sql(connection, roles, input_files(args.incoming, "clicks.incoming"))
        for day, entry in report["batches"].items():
            scored = engine.parquet_source([Path(args.scored) / f"{day}.parquet"])
            if labels:
                entry["labels"] = label_outcome(
                    connection, scored, labels, rate=settings["label_rate"], seed=2
                )
    write_json(args.report, report)
    table = drift_table(report)
    write_csv(Path(args.out_dir) / "drift.csv", table, float_format="%.6g")
    figure = drift_figure(table, settings["psi_alert"], top=12, summary=SCORES)
    save_figure(figure, Path(args.out_dir) / "drift.png")
    for day, entry in report["batches"].items():
        log.info("%s: %s", day, "; ".join(entry["alerts"]) or "no drift alert")
        if outcome := entry.get("labels"):
            log.info("%s: %s installs observed, %.0f predicted; ROC-AUC %.4f", day,
                     f"{outcome['installs']:,}", outcome["predicted_installs"],
                     outcome["roc_auc"])  # fmt: skip


if __name__ == "__main__":
    run_stage(main)

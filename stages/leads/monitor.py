"""Stage leads_monitor: compare each scored batch with the training data and say whether to retrain.

Per batch and feature: PSI over training bins, a KS / chi-square test and the share of unseen
categories; the shift of the score distribution against the test split; and, once a batch's labels
are in `leads_monitor.labels`, its realised ROC-AUC and genuine rate. Writes reports/drift.json
(`retrain_recommended` and its reasons), reports/monitor/drift.csv and drift.png.
"""

import argparse
import json
import logging
from pathlib import Path

import pandas as pd

from leadsift.core.cli import run_stage
from leadsift.core.config import load_params
from leadsift.core.io import BATCH_SUFFIXES, read_table, write_csv, write_json
from leadsift.core.model_store import load_model
from leadsift.core.monitoring import feature_drift, score_drift
from leadsift.core.plots import drift_figure, save_figure
from leadsift.leads import monitoring
from leadsift.leads.features import add_features, derived_feature_names
from leadsift.leads.models import TRUSTED_TYPES
from leadsift.leads.param_rules import RULES
from leadsift.leads.schema import ColumnRoles, raw_records

log = logging.getLogger("leadsift.leads.monitor")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("scored", help="directory of scored batches (data/scored/leads)")
    parser.add_argument("labels", help="directory of batch labels, params `leads_monitor.labels`")
    parser.add_argument("split_dir", help="directory with train.parquet and test.parquet")
    parser.add_argument("model_dir", help="the model that scored the batches")
    parser.add_argument("evaluation", help="reports/evaluation.json, for the test ROC-AUC")
    parser.add_argument("report", help="drift JSON to write")
    parser.add_argument("out_dir", help="directory for drift.csv and drift.png")
    args = parser.parse_args()
    params = load_params(RULES)
    settings = params["leads_monitor"]
    roles = ColumnRoles.from_params(params["leads"])
    limits = monitoring.Thresholds.from_params(settings)
    numeric = [*roles.numeric_inputs, *derived_feature_names(roles.interaction_groups, None)]
    train = pd.read_parquet(Path(args.split_dir) / "train.parquet")
    test = pd.read_parquet(Path(args.split_dir) / "test.parquet")
    model = load_model(args.model_dir, TRUSTED_TYPES)
    reference_scores = model.predict_proba(raw_records(test, roles))[:, 1]
    test_roc_auc = json.loads(Path(args.evaluation).read_text())["test"]["roc_auc"]

    batches = {}
    for path in sorted(Path(args.scored).glob("*.parquet")):
        scored = pd.read_parquet(path)
        features = feature_drift(
            train,
            add_features(scored, roles.interaction_groups, None),
            categorical=roles.categorical,
            numeric=numeric,
            bins=settings["bins"],
        )
        score = score_drift(reference_scores, scored["probability"], settings["bins"])
        labels = None
        candidates = [Path(args.labels) / f"{path.stem}{suffix}" for suffix in BATCH_SUFFIXES]
        if label_file := next((f for f in candidates if f.is_file()), None):
            table = read_table(label_file, "leads_monitor.labels", text=[roles.id_column])
            y, probability = monitoring.labelled_scores(scored, table, roles, str(label_file))
            labels = monitoring.label_outcome(y, probability)
        alerts = monitoring.batch_alerts(
            features, score, labels, test_roc_auc=test_roc_auc, limits=limits
        )
        batches[path.stem] = {
            "rows": len(scored),
            "alerts": alerts,
            "score": score,
            "labels": labels,
            "features": features.to_dict(orient="index"),
        }
        log.info("%s: %d leads, %s", path.stem, len(scored), "; ".join(alerts) or "no drift alert")

    report = monitoring.drift_report(batches, limits)
    write_json(args.report, report)
    table = monitoring.drift_table(report)
    write_csv(Path(args.out_dir) / "drift.csv", table, float_format="%.6g")
    save_figure(drift_figure(table, limits.psi_alert, top=20), Path(args.out_dir) / "drift.png")
    verdict = "retrain recommended" if report["retrain_recommended"] else "no retraining needed"
    log.info("%d batch(es) checked: %s", len(batches), verdict)


if __name__ == "__main__":
    run_stage(main)

"""Stage clicks_evaluate: the click model on the whole test day, next to the ceiling.

The day is scored out of core, a block at a time. Where the generator's truth covers the log, its
`p_true` (what can be known at each click) gives the ceiling of any online model. Also: installs
predicted against observed, overall and per channel and app; the share of clicks and of spend
that can be flagged as worth least while keeping `clicks_evaluate.keep_installs` of the installs;
the sources with the most clicks and almost no predicted installs.
"""

import argparse
import logging
from pathlib import Path

from leadsift.clicks import engine
from leadsift.clicks.evaluation import evaluate, scored_days, truth_applies
from leadsift.clicks.model import TRUSTED_TYPES
from leadsift.clicks.param_rules import RULES
from leadsift.clicks.plots import evaluation_figures
from leadsift.clicks.training import labelled_days, split_days
from leadsift.core import tracking
from leadsift.core.cli import run_stage
from leadsift.core.config import load_params
from leadsift.core.io import write_csv, write_json
from leadsift.core.model_store import load_model
from leadsift.core.plots import save_figure

log = logging.getLogger("leadsift.clicks.evaluate")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("model_dir", help="the trained click model (models/click_model)")
    parser.add_argument("features", help="the clicks with their features (Parquet)")
    parser.add_argument("truth_dir", help="the generator's p_true by click_id, if it applies")
    parser.add_argument("reports", help="the clicks pipeline's reports folder")
    args = parser.parse_args()
    params = load_params(RULES)
    model = load_model(args.model_dir, TRUSTED_TYPES)
    truth_dir = Path(args.truth_dir)
    truth = truth_dir if truth_applies(params["clicks"]["raw_path"], truth_dir) else None
    with engine.connect(engine.EngineSettings.from_params(params["clicks_engine"])) as connection:
        features = engine.parquet_source([Path(args.features)])
        split = split_days(labelled_days(connection, features), params["clicks_split"])
        log.info("scoring the test day(s) %s block by block", list(split.test))
        test = scored_days(connection, model, features, split.test, truth)
    summary, tables = evaluate(test, params["clicks_evaluate"])
    reports = Path(args.reports)
    write_json(reports / "evaluation.json", summary)
    for name, table in tables.items():
        write_csv(reports / "plots" / f"{name}.csv", table, float_format="%.6g")
    figures = evaluation_figures(tables, summary)
    for name, figure in figures.items():
        save_figure(figure, reports / "figures" / f"{name}.png")
    tracking.log_to_model_run(
        params["mlflow"]["experiment"],
        Path(args.model_dir),
        summary,
        [("figures", reports / "figures" / f"{n}.png") for n in figures]
        + [("evaluation", reports / "evaluation.json")],
    )
    model_q, flagged = summary["model"], summary["flagged"]
    ceiling = f" (ceiling {summary['ceiling']['roc_auc']:.4f})" if "ceiling" in summary else ""
    log.info("test ROC-AUC %.4f%s; installs predicted %.0f, observed %d", model_q["roc_auc"],
             ceiling, model_q["predicted_installs"], summary["attributed"])  # fmt: skip
    log.info("%.1f%% of clicks flagged, keeping %.1f%% of installs",
             100 * flagged["clicks_flagged"], 100 * flagged["installs_kept"])  # fmt: skip


if __name__ == "__main__":
    run_stage(main)

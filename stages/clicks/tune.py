"""Stage clicks_tune: an Optuna study of the click model's LightGBM settings.

Trials fit one booster on a negative down-sample of the training days and are scored on the
validation days' sample, on the full days' scale (`clicks_tune.metric`); the study is seeded and
runs its trials one at a time, so it is reproducible. The best settings go to
models/clicks_params.yaml, which clicks_train reads.
"""

import argparse
import logging
from pathlib import Path

from leadsift.clicks import engine
from leadsift.clicks.features import day_name
from leadsift.clicks.param_rules import RULES
from leadsift.clicks.training import study
from leadsift.core import plots, tracking, tuning
from leadsift.core.cli import run_stage
from leadsift.core.config import load_params
from leadsift.core.io import write_csv, write_json, write_yaml

log = logging.getLogger("leadsift.clicks.tune")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("features", help="the clicks with their features (Parquet)")
    parser.add_argument("best_params", help="YAML of the best settings")
    parser.add_argument("reports", help="the clicks pipeline's reports folder")
    args = parser.parse_args()
    params = load_params(RULES)
    settings = params["clicks_tune"]
    with engine.connect(engine.EngineSettings.from_params(params["clicks_engine"])) as connection:
        features = engine.parquet_source([Path(args.features)])
        result, space, split = study(connection, features, params)
    summary = {
        **tuning.summary(result, settings["metric"]),
        "days": {
            part: [day_name(d) for d in getattr(split, part)] for part in split.__dataclass_fields__
        },
    }
    write_yaml(args.best_params, {**summary, "params": result.best_params})
    reports = Path(args.reports)
    trials = tuning.trials_table(result)
    write_csv(reports / "tuning" / "trials.csv", trials, float_format="%.6g")
    write_json(reports / "tuning.json", summary)
    figure = plots.tuning_history_figure(trials, settings["metric"])
    plots.save_figure(figure, reports / "tuning" / "history.png")
    tracking.log_stage(
        params["mlflow"]["experiment"],
        "clicks_tune",
        tags=tracking.run_tags("clicks_tune", "lightgbm", params["clicks"]["raw_path"]),
        params={
            "clicks_tune": settings,
            "clicks_sampling": params["clicks_sampling"],
            "space": params["clicks_tune_setup"]["space"],
        },
        metrics=summary,
        artifacts=[("tuning", reports / "tuning" / f) for f in ("trials.csv", "history.png")],
    )
    best = result.best_trial
    log.info("best %s %.5f (trial %d, %d settings searched): %s", settings["metric"], best.value,
             best.number, len(space), best.params)  # fmt: skip


if __name__ == "__main__":
    run_stage(main)

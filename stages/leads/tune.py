"""Stage leads_tune: an Optuna study of the chosen model family's hyperparameters.

Trials fit on (a seeded subsample of) the training split and are scored on the validation split.
The best parameters go to models/best_params.yaml, which `train` reads; the trial table, a summary
and two figures go to reports/.
"""

import argparse
import logging
from pathlib import Path

import pandas as pd

from leadsift.core import plots, tracking, tuning
from leadsift.core.cli import run_stage
from leadsift.core.config import load_params
from leadsift.core.io import write_csv, write_json, write_yaml
from leadsift.core.studies import Studies, study_name
from leadsift.leads.param_rules import RULES
from leadsift.leads.tuning import objective_from_params

log = logging.getLogger("leadsift.leads.tune")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("train", help="training split (parquet)")
    parser.add_argument("validation", help="validation split (parquet)")
    parser.add_argument("best_params", help="YAML of the best hyperparameters")
    parser.add_argument("reports", help="reports directory")
    args = parser.parse_args()
    params = load_params(RULES)
    settings, family = params["tune"], params["model"]["family"]
    train = tuning.sample_rows(pd.read_parquet(args.train), settings["max_rows"], settings["seed"])
    log.info(
        "tuning %s: %d trials on %s training leads", family, settings["n_trials"], f"{len(train):,}"
    )
    validation = pd.read_parquet(args.validation)
    evaluate, space = objective_from_params(params, train, validation)
    study = tuning.run_study(
        evaluate,
        n_trials=settings["n_trials"],
        seed=settings["seed"],
        pruner=settings["pruner"],
        timeout=params["tune_setup"]["timeout"],
        sampler=tuning.SAMPLERS[params["tune_setup"]["sampler"]],
        studies=Studies.from_params(params),
        name=study_name("leads_tune", params, [train, validation]),
    )

    summary = tuning.summary(study, settings["metric"])
    write_yaml(args.best_params, {"family": family, **summary, "params": study.best_params})
    reports = Path(args.reports)
    trials = tuning.trials_table(study)
    write_csv(reports / "tuning" / "trials.csv", trials, float_format="%.6g")
    write_json(reports / "tuning.json", summary)
    figures = {
        "history": plots.tuning_history_figure(trials, settings["metric"]),
        "importance": plots.importance_figure(
            tuning.param_importances(study, settings["seed"]),
            len(space),
            title="hyperparameter importances (fANOVA)",
            xlabel="share of the score's variance",
        ),
    }
    for name, figure in figures.items():
        plots.save_figure(figure, reports / "tuning" / f"{name}.png")
    tracking.log_stage(
        params["mlflow"]["experiment"],
        "leads_tune",
        tags=tracking.run_tags("leads_tune", family, params["leads"]["raw_path"]),
        params={
            "tune": {**settings, "sampler": params["tune_setup"]["sampler"]},
            "model": {**params["model"], **params["model_setup"]},
            "space": params["tune_setup"]["spaces"][family],
        },
        metrics=summary,
        artifacts=[
            ("tuning", reports / "tuning" / f)
            for f in ("trials.csv", "history.png", "importance.png")
        ]
        + [("tuning", Path(args.best_params))],
    )
    log.info(
        "best %s %.4f (trial %d): %s",
        settings["metric"],
        study.best_value,
        study.best_trial.number,
        study.best_params,
    )


if __name__ == "__main__":
    run_stage(main)

"""Section `tuning`: TPE (what `leads_tune` runs) against random search, like with like.

The real `leads_tune` stage runs in a copy of the built project with `tune_setup.sampler` tpe,
then random, for each seed (`tune.seed`, which seeds the sampler and the rows the trials fit on),
with the same pruner and the same number of trials: enough that TPE's random start-up trials are
a minority. Each study's best value is the one the stage wrote to reports/tuning.json.
"""

from __future__ import annotations

import inspect
import json
import statistics
from collections.abc import Sequence

from leadsift.bench.harness import Bench, Result, check, log, run_stage, stage_copy
from leadsift.core.config import read_params, write_overrides
from leadsift.leads.param_rules import SAMPLERS


def run(bench: Bench, seeds: Sequence[int] = (0, 1, 2)) -> list[Result]:
    """Both samplers' studies for each seed: the mean best of each."""
    import optuna  # noqa: PLC0415 (only for its default number of start-up trials)

    repo = stage_copy(bench.workdir / "tuning", bench.built_copy(), ("data/split",))
    settings = read_params(repo)["tune"]
    best: dict[str, list[float]] = {name: [] for name in SAMPLERS}
    wall: dict[str, list[float]] = {name: [] for name in SAMPLERS}
    for seed in seeds:
        for sampler in SAMPLERS:
            log(f"tuning: leads_tune with {sampler}, seed {seed}, {bench.tuning_trials} trials")
            overrides = {
                "tune.seed": seed,
                "tune.n_trials": bench.tuning_trials,
                "tune_setup.sampler": sampler,
            }
            write_overrides(repo, overrides)
            wall[sampler].append(run_stage(repo, "leads_tune").wall_s)
            best[sampler].append(
                json.loads((repo / "reports/tuning.json").read_text())["best_value"]
            )
    startup = inspect.signature(optuna.samplers.TPESampler).parameters["n_startup_trials"]
    return [
        check(
            "TPE mean best - random mean best",
            statistics.mean(best["tpe"]) - statistics.mean(best["random"]),
            metric=settings["metric"],
            n_trials=bench.tuning_trials,
            tpe_startup_trials=startup.default,
            pruner=settings["pruner"],
            seeds=list(seeds),
            tpe_best=[round(b, 6) for b in best["tpe"]],
            random_best=[round(b, 6) for b in best["random"]],
            tpe_mean_stage_s=round(statistics.mean(wall["tpe"]), 1),
            random_mean_stage_s=round(statistics.mean(wall["random"]), 1),
        )
    ]

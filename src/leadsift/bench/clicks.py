"""Section `clicks`: the clicks pipeline from scratch, twice, at the default size: the model
against the ceiling (ROC-AUC, log loss, installs), the leak gap (a fact, not a target), speed,
a no-op repro and identical builds."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from leadsift.bench.harness import Bench, Result, check, log, project_copy, quiet, run_watched
from leadsift.bench.segmentation import WALL_TIME_OUTPUT, differing_outs


def clicks_stages(repo: Path) -> list[str]:
    """The clicks pipeline's stages in dvc.yaml."""
    stages = yaml.safe_load((repo / "dvc.yaml").read_text())["stages"]
    return [name for name in stages if name.startswith("clicks_")]


def run(bench: Bench) -> list[Result]:
    """Two clean builds of every clicks stage at the default size (or the run's smoke size)."""
    overrides = {"generate_clicks.n_clicks": bench.clicks_default} if bench.clicks_default else {}
    builds = []
    for copy in ("first", "second"):
        repo = project_copy(bench.workdir / f"clicks_{copy}", overrides)
        stages = clicks_stages(repo)
        log(f"clicks: dvc repro of the {len(stages)} clicks stages ({copy} clean copy)")
        builds.append((repo, run_watched(["dvc", "repro", *stages], repo)))
    (repo, watched), (second, _) = builds
    rerun = quiet(["dvc", "repro", *stages], repo).stdout.count("Running stage")
    evaluation = json.loads((repo / "reports/clicks/evaluation.json").read_text())
    leak = json.loads((repo / "reports/clicks/leak.json").read_text())
    clicks = json.loads((repo / "reports/clicks/data.json").read_text())["log"]["rows_in"]
    different = differing_outs(repo, second, stages)
    model, ceiling, ratios = evaluation["model"], evaluation["ceiling"], evaluation["ratios"]
    return [
        check("clicks test ROC-AUC / the ceiling's", ratios["roc_auc"],
              roc_auc=model["roc_auc"], ceiling=ceiling["roc_auc"], clicks=evaluation["clicks"]),
        check("clicks test log loss / the ceiling's", ratios["log_loss"],
              log_loss=model["log_loss"], ceiling=ceiling["log_loss"]),
        check("clicks installs predicted / observed, test day, off by",
              abs(evaluation["installs_ratio"] - 1), predicted=model["predicted_installs"],
              observed=evaluation["attributed"], expected=ceiling["predicted_installs"]),
        Result("clicks leak gap: test ROC-AUC with future-looking features - at the click",
               round(leak["gap"], 6), "a fact, not a target", None, "",
               {**leak, "reported": "what the leaderboard's future-looking features add"},
               "clicks"),
        check("clicks pipeline from scratch", watched.wall_s, at=(clicks,),
              stages=watched.stages, peak_rss_mb=round(watched.peak_rss_mb)),
        check("clicks stages a no-op repro reruns", rerun),
        check("clicks dvc.lock outputs differing between two clean builds", len(different),
              differing=different, excluded=f"*{WALL_TIME_OUTPUT} (wall times)"),
    ]  # fmt: skip

"""Section `segmentation`: the customers pipeline from scratch, twice, at the default size:
quality against the generator's truth, speed, a no-op repro, identical builds, and the revenue
forecast against the generator's expected revenue, also for the same shop without its campaign.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from leadsift.bench.harness import (
    Bench,
    Result,
    Watched,
    check,
    log,
    project_copy,
    quiet,
    run_stage,
    run_watched,
    stage_copy,
)
from leadsift.core.config import read_params
from leadsift.customers.forecast.calendar import Calendar

# The embedded shop's campaign segment, whose new customers arrive only in the last months, and
# the calendar that plans it.
NO_CAMPAIGN = "generate_transactions_setup.segments.new.recent"
CALENDAR_KEY = "forecast_setup.campaigns"
# What customers_forecast reads of a build (the forecast without the calendar reruns it alone).
FORECAST_INPUTS = (
    "data/customers/interim/transactions.parquet",
    "data/customers/segments.csv",
    "data/customers/raw/expected_revenue.parquet",
)


def customer_stages(repo: Path) -> list[str]:
    """The customers pipeline's stages in dvc.yaml (`dvc repro` of them all builds nothing else)."""
    stages = yaml.safe_load((repo / "dvc.yaml").read_text())["stages"]
    return [name for name in stages if name.startswith("customers_")]


WALL_TIME_OUTPUT = "/trials.csv"  # its duration_s column differs on purpose (dvc.yaml)


def locked_outs(repo: Path, stages: Sequence[str]) -> dict[str, str]:
    """`stage:path -> md5` of the stages' outputs in dvc.lock."""
    lock = yaml.safe_load((repo / "dvc.lock").read_text())["stages"]
    return {f"{stage}:{out['path']}": out["md5"] for stage in stages for out in lock[stage]["outs"]}


def differing_outs(first: Path, second: Path, stages: Sequence[str]) -> list[str]:
    """The stages' outputs whose dvc.lock hashes differ between two builds, wall times left out."""
    theirs = locked_outs(second, stages)
    return sorted(
        out
        for out, md5 in locked_outs(first, stages).items()
        if theirs.get(out) != md5 and not out.endswith(WALL_TIME_OUTPUT)
    )


def run(bench: Bench) -> list[Result]:
    """The customers pipeline from scratch at the run's shop size in two clean copies: its wall
    time, agreement with the generator's truth, a no-op repro, identical dvc.lock hashes, and the
    revenue forecast against the truth."""
    overrides = bench.shop_overrides
    builds = []
    for copy in ("first", "second"):
        repo = project_copy(bench.workdir / f"customers_{copy}", overrides)
        stages = customer_stages(repo)
        log(f"segmentation: dvc repro of the {len(stages)} customers stages ({copy} clean copy)")
        builds.append((repo, run_watched(["dvc", "repro", *stages], repo)))
    (repo, watched), (second, _) = builds
    # The same shop with its new customers arriving all along, not in a campaign the generator
    # plans (which its truth foresees and no history shows), and the default shop forecast
    # without the calendar that plans it.
    plain = project_copy(
        bench.workdir / "customers_no_campaign", {**overrides, NO_CAMPAIGN: False, CALENDAR_KEY: []}
    )
    log("segmentation: the forecast of the shop without the campaign")
    quiet(["dvc", "repro", "customers_forecast"], plain)
    blind = stage_copy(bench.workdir / "customers_no_calendar", repo, FORECAST_INPUTS,
                       {**overrides, CALENDAR_KEY: []})  # fmt: skip
    log("segmentation: the forecast without the campaigns' calendar")
    run_stage(blind, "customers_forecast")
    rerun = quiet(["dvc", "repro", *stages], repo).stdout.count("Running stage")
    segments = json.loads((repo / "reports/customers/segments.json").read_text())
    lines = json.loads((repo / "reports/customers/data.json").read_text())["rows_in"]
    truth, k = segments["truth"], len(segments["segments"])
    different = differing_outs(repo, second, stages)
    return [
        check(
            "segments ARI / Bayes ARI",
            truth["ari_share_of_ceiling"],
            ari=round(truth["ari"], 4),
            bayes_ari=round(truth["ari_ceiling"], 4),
            lines=lines,
        ),
        check(
            "tuned k - true number of segments",
            k - truth["true_segments"],
            k=k,
            true_segments=truth["true_segments"],
        ),
        check(
            "customers pipeline from scratch",
            watched.wall_s,
            lines=lines,
            stages=watched.stages,
            peak_rss_mb=round(watched.peak_rss_mb),
        ),
        check("stages a no-op repro reruns", rerun),
        check(
            "dvc.lock outputs differing between two clean builds",
            len(different),
            differing=different,
            excluded=f"*{WALL_TIME_OUTPUT} (wall times)",
        ),
        *forecast_results(repo, watched, plain, blind),
        *marketplace_results(repo),
    ]


def _forecast_series(repo: Path) -> dict[str, Any]:
    """Every series' summary in a built copy's forecast.json."""
    return json.loads((repo / "reports/customers/forecast.json").read_text())["series"]


def forecast_results(repo: Path, watched: Watched, plain: Path, blind: Path) -> list[Result]:
    """The forecast of a built copy against the expectation given the same information: with
    the campaigns' calendar, the expected revenue, which knows the campaign; without it (the
    `blind` copy), the expectation learning of the campaign only when it begins, as a model of
    the history must; for the `plain` copy, whose shop has no campaign, the expected revenue.
    Then the naive baseline, the interval coverage in the backtest and the stage's wall time."""
    series = _forecast_series(repo)
    total, plain_total = series["total"], _forecast_series(plain)["total"]
    plain_chosen = plain_total["models"][plain_total["model"]]
    chosen, truth = total["models"][total["model"]], total["truth"]
    blind_total = _forecast_series(blind)["total"]
    blind_chosen = blind_total["models"][blind_total["model"]]
    from_history = blind_total["truth"]["from_history"]["mase"]
    naive = total["models"]["naive"]
    params = read_params(repo)
    setup = params["forecast_setup"]
    level, origins = setup["level"], setup["origins"]
    points = params["forecast"]["horizon"] * origins
    chosen_by_series = [s["models"][s["model"]] for s in series.values()]
    covered = [e["coverage"] for e in chosen_by_series if e.get("coverage") is not None]
    return [
        check(
            "forecast MASE / the same-information expectation's, calendar given",
            chosen["mase"] / truth["mase"],
            model=total["model"],
            mase=chosen["mase"],
            truth_mase=truth["mase"],
            campaigns=[str(c) for c in Calendar.from_params(setup["campaigns"]).campaigns],
        ),
        check(
            "forecast MASE / the same-information expectation's, no calendar",
            blind_chosen["mase"] / from_history,
            model=blind_total["model"],
            mase=blind_chosen["mase"],
            truth_from_history_mase=from_history,
            # what the campaign-knowing expectation does: out of reach without the calendar
            truth_mase=blind_total["truth"]["mase"],
        ),
        check(
            "forecast MASE / the expected revenue's, shop without the campaign",
            plain_chosen["mase"] / plain_total["truth"]["mase"],
            model=plain_total["model"],
            mase=plain_chosen["mase"],
            truth_mase=plain_total["truth"]["mase"],
            next_total=round(plain_total["next"]["total"], 2),
            truth_next_total=round(plain_total["truth"]["next_total"], 2),
        ),
        check(
            "forecast MASE / the naive baseline's",
            chosen["mase"] / naive["mase"],
            mase=chosen["mase"],
            naive_mase=naive["mase"],
        ),
        check(
            "forecast interval coverage, points from nominal",
            abs(chosen["coverage"] - level) * 100,
            coverage=chosen["coverage"],
            level=level,
            backtest_months=points,
            every_series_coverage=round(float(np.mean(covered)), 6),
            every_series_months=points * len(covered),
        ),
        check("customers_forecast stage", watched.stages["customers_forecast"]["wall_s"]),
    ]


def marketplace_results(repo: Path) -> list[Result]:
    """The commission's causal effect in a built copy against the generator's (drivers.json):
    the adjusted estimate's error and whether its interval covers the truth, the naive slope's
    error, and the placebo's distance from 0 in half-widths of its interval."""
    drivers = json.loads((repo / "reports/customers/drivers.json").read_text())
    commission = drivers["commission"]
    truth, effect, placebo = commission["truth"], commission["effect"], commission["placebo"]
    half_width = (placebo["upper"] - placebo["lower"]) / 2
    return [
        check(
            "commission effect: adjusted error / true effect",
            truth["error_share"],
            also=truth["covered"],
            estimate=effect["estimate"],
            interval=[effect["lower"], effect["upper"]],
            truth=truth["effect"],
            products=drivers["products"],
        ),
        check(
            "commission effect: naive error / true effect",
            truth["naive_error_share"],
            estimate=commission["naive"]["estimate"],
            truth=truth["effect"],
        ),
        check(
            "placebo effect / its interval's half-width",
            abs(placebo["estimate"]) / half_width,
            estimate=placebo["estimate"],
            interval=[placebo["lower"], placebo["upper"]],
            draws=placebo["draws"],
            intervals_covering_zero=placebo["coverage"],
        ),
    ]

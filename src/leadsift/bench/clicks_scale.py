"""Section `clicks_scale`: the clicks pipeline from scratch on logs of 20,000,000 and 185,000,000
clicks (TalkingData's size) by default: the largest process's peak memory, whether time grows
linearly, the end-to-end time at full size, and the feature stage against its own SQL run alone
by the engine (the floor it cannot beat)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import duckdb

from leadsift.bench.harness import (
    Bench,
    Result,
    Watched,
    check,
    env,
    log,
    project_copy,
    run_stage,
    run_watched,
)
from leadsift.bench.scale import size_targets
from leadsift.clicks import engine
from leadsift.core.config import read_params

TARGETS = ("clicks_score", "clicks_evaluate")  # generate, prepare, features, tune, train, ...
# The feature SQL run alone: a process that only connects the engine, as the stage does, and
# times the query into a table (no Parquet written), printing the seconds.
FLOOR = """
import json, sys, time
from leadsift.clicks import engine
from leadsift.clicks.features import features_sql
settings = engine.EngineSettings(**json.loads(sys.argv[1]))
with engine.connect(settings) as connection:
    start = time.perf_counter()
    connection.execute("CREATE TEMP TABLE f AS " + features_sql(engine.quoted(sys.argv[2])))
    print(time.perf_counter() - start)
"""


def feature_floor(repo: Path, watched: Watched, log_clicks: int) -> Result:
    """The `clicks_features` stage of a built copy (its time in the build, minus its time on a
    one-click log) over the same SQL run alone by the engine on the same clicks (the log's
    `log_clicks` and the later days'), stated at the log's size like the other rows."""
    settings = engine.EngineSettings.from_params(read_params(repo)["clicks_engine"])
    clicks = repo / "data/clicks/interim/clicks.parquet"
    done = subprocess.run(
        [sys.executable, "-c", FLOOR, json.dumps(asdict(settings)), str(clicks)],
        cwd=repo, env=env(), capture_output=True, text=True, check=True,
    )  # fmt: skip
    floor_s = float(done.stdout.strip().splitlines()[-1])
    one = repo / "one_click.parquet"
    with duckdb.connect() as connection:
        featurized = connection.execute(f"SELECT COUNT(*) FROM '{clicks}'").fetchone()[0]
        connection.execute(f"COPY (SELECT * FROM '{clicks}' LIMIT 1) TO '{one}' (FORMAT parquet)")
    shutil.copy(one, clicks)  # the stage's command reads this path: one click now
    startup_s = run_stage(repo, "clicks_features").wall_s
    stage_s = watched.stages["clicks_features"]["wall_s"]
    ratio = (stage_s - startup_s) / floor_s if stage_s > startup_s else None
    return check(
        "clicks_features stage / its bare window queries",
        ratio,
        at=(log_clicks,),
        clicks_featurized=featurized,
        stage_s=stage_s,
        startup_s=round(startup_s, 2),
        engine_alone_s=round(floor_s, 2),
    )


def run(bench: Bench) -> list[Result]:
    """`dvc repro` of the clicks stages up to scoring and evaluation at each of the run's sizes,
    judged by clicks in the log."""
    runs, floor = {}, []
    for n in bench.clicks_sizes:
        log(f"clicks_scale: generate to score and evaluate at {n:,} clicks")
        repo = project_copy(bench.workdir / f"clicks_{n}", {"generate_clicks.n_clicks": n})
        watched = run_watched(["dvc", "repro", *TARGETS], repo)
        clicks = json.loads((repo / "reports/clicks/data.json").read_text())["log"]["rows_in"]
        runs[clicks] = watched
        log(f"clicks_scale: {clicks:,} clicks took {watched.wall_s:.0f} s, peak "
            f"{watched.peak_rss_mb:.0f} MB")  # fmt: skip
        if n == min(bench.clicks_sizes):
            floor.append(feature_floor(repo, watched, clicks))
        shutil.rmtree(repo, ignore_errors=True)
    largest, smallest = max(runs), min(runs)
    rows = size_targets(
        runs, "peak RSS, clicks pipeline", "time per click, clicks pipeline, larger / smaller"
    )
    if largest != smallest:
        rows.append(
            check(
                "peak RSS, clicks pipeline, smaller log",
                runs[smallest].peak_rss_mb,
                at=(smallest,),
                stages=runs[smallest].stages,
            )
        )
    rows.append(
        check(
            "clicks pipeline end to end",
            runs[largest].wall_s,
            at=(largest,),
            stages=runs[largest].stages,
        )
    )
    return rows + floor

"""Section `pipeline`: what DVC costs over the stage scripts it runs.

`dvc repro` from scratch against the same stage scripts (dvc.yaml's commands, in file order) run
in one Python process, where the libraries load once; a no-op `dvc repro` against `dvc status`.
Its last build is the copy the other lead sections read.
"""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import sys
import time

from leadsift.bench.harness import (
    Bench,
    Result,
    check,
    env,
    log,
    project_copy,
    run_watched,
    stage_commands,
    timed,
)

IN_PROCESS = """
import json, runpy, sys, time
from leadsift.core.launch import pin_numerics
pin_numerics()  # as each stage's launcher does, before numpy loads
times = {}
for name, argv in json.loads(sys.argv[1]):
    start = time.perf_counter()
    sys.argv = argv
    runpy.run_path(argv[0], run_name="__main__")
    times[name] = time.perf_counter() - start
print(json.dumps(times))
"""


def run(bench: Bench, repeats: int = 3) -> list[Result]:
    """The median of `repeats` builds of each kind, since one build varies by about 10%, more
    than the target's margin; then the no-op repro in the last build, which becomes the run's
    built copy."""
    log(f"pipeline: dvc repro from scratch (default params, {bench.overrides or 'no overrides'})")
    dvc_runs, one_process_runs = [], []
    for attempt in range(repeats):
        built = project_copy(bench.workdir / f"dvc_{attempt}", bench.overrides)
        watched = run_watched(["dvc", "repro"], built)
        dvc_runs.append(watched)
        log(f"pipeline: dvc repro took {watched.wall_s:.0f} s; now the stages in one process")
        bare = project_copy(bench.workdir / f"bare_{attempt}", bench.overrides)
        start = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-c", IN_PROCESS, json.dumps(stage_commands(bare))],
            cwd=bare, env=env(), check=True, capture_output=True, text=True,
        )  # fmt: skip
        one_process_runs.append(time.perf_counter() - start)
        stage_times = json.loads(done.stdout.strip().splitlines()[-1])
        shutil.rmtree(bare, ignore_errors=True)
    bench.built = built
    dvc_s = statistics.median(w.wall_s for w in dvc_runs)
    in_process = statistics.median(one_process_runs)
    log("pipeline: no-op dvc repro vs dvc status (median of 5)")
    noop = statistics.median(timed(["dvc", "repro"], built) for _ in range(5))
    status = statistics.median(timed(["dvc", "status"], built) for _ in range(5))
    return [
        check(
            "dvc repro / stages in one process",
            dvc_s / in_process,
            dvc_repro_s=[round(w.wall_s, 1) for w in dvc_runs],
            one_process_s=[round(t, 1) for t in one_process_runs],
            of="medians",
            one_process_stage_s={k: round(v, 1) for k, v in stage_times.items()},
            dvc_stages=watched.stages,
            peak_rss_mb=round(watched.peak_rss_mb),
        ),
        check(
            "no-op dvc repro / dvc status",
            noop / status,
            noop_repro_s=round(noop, 2),
            status_s=round(status, 2),
        ),
    ]

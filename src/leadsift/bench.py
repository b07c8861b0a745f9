"""`make bench`: quality against the known ceiling, speed and scale, measured side by side.

    python -m leadsift.bench [--only pipeline,quality,tuning,throughput,scoring,serving,scale,
                                     streaming,segmentation,segmentation_scale,profile]
                             [--scale 1000000,3000000] [--streaming 1000000,10000000]
                             [--customers 14400,145000] [--leads N] [--shop-customers N]
                             [--out reports/bench.json]

Every figure is measured in this one run, on this machine, and most are ratios against a
reference measured next to it (a peer model, a pyarrow floor, the same stage functions without
DVC), so they say something beyond this machine's speed. The pipeline is rebuilt from scratch with
the default params in a temporary copy of the project; the other sections use that copy's outputs.
`scale` runs the pandas pipeline (`dvc repro train`) at larger sizes; it needs about 2.3 GB per
million leads, so 10,000,000 leads do not fit in 23 GB. `streaming` measures what would: the same
generator, cleaning and features in bounded chunks, and LightGBM trained from a dataset binned
batch by batch. `segmentation` builds the customers pipeline twice from scratch (quality against
the generator's truth, speed, no-op repro, identical builds); `segmentation_scale` runs it at
about 500,000 and 5,000,000 transaction lines. `profile` times the leads' data-profile stage at
240,000 leads and on a 6,000 x 85 table.
Writes reports/bench.json (each target: measured figure, target, met; a run of some sections
replaces only their rows) and prints a table. It takes about an hour on two cores, so it is not
part of `make test`."""

from __future__ import annotations

import argparse
import hashlib
import http.client
import inspect
import json
import math
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import psutil
import yaml

from leadsift.core.config import read_params, write_overrides

ROOT = Path.cwd()
PROJECT_FILES = (
    "dvc.yaml",
    "params.yaml",
    "config.yaml",
    ".dvcignore",
    ".gitignore",
    "Makefile",
    "stages",
    "src",
)
NO_CAMPAIGN = "generate_transactions.segments.new.recent"  # the embedded shop's campaign segment
SECTIONS = (
    "pipeline",
    "quality",
    "tuning",
    "throughput",
    "scoring",
    "serving",
    "scale",
    "streaming",
    "segmentation",
    "segmentation_scale",
    "profile",
)


@dataclass
class Result:
    name: str
    measured: float | None
    target: str  # e.g. ">= 0.98"
    met: bool | None
    unit: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    section: str = ""  # set by `main`: a partial run replaces the rows of the sections it ran


def _check(name: str, value: float, op: str, bound: float, unit: str = "", **details) -> Result:
    met = {">=": value >= bound, "<=": value <= bound, "<": value < bound}[op]
    return Result(name, round(float(value), 6), f"{op} {bound:g}", bool(met), unit, details)


def _log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _env() -> dict[str, str]:
    """The environment for dvc and stage subprocesses: this interpreter's bin first on PATH."""
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    return {**os.environ, "PATH": path, "PYTHONPATH": "src", "DVC_NO_ANALYTICS": "1"}


def copy_project(dest: Path, root: Path = ROOT) -> None:
    """Copy the files that make up the pipeline (code, params, dvc.yaml, Makefile) into `dest`."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in PROJECT_FILES:
        source = root / name
        if source.is_dir():
            shutil.copytree(
                source, dest / name, ignore=shutil.ignore_patterns("*.egg-info", "__pycache__")
            )
        else:
            shutil.copy2(source, dest / name)


def project_copy(dest: Path, overrides: dict[str, Any] | None = None) -> Path:
    """A fresh git + DVC repository holding the project's code and params (plus overrides)."""
    copy_project(dest)
    write_overrides(dest, overrides or {})
    for command in (["git", "init", "-q"], ["dvc", "init", "-q"]):
        subprocess.run(command, cwd=dest, env=_env(), check=True)
    subprocess.run(["git", "add", "-A"], cwd=dest, check=True)
    subprocess.run(
        [
            "git",
            "-c",
            "user.name=bench",
            "-c",
            "user.email=bench@localhost",
            "commit",
            "-qm",
            "bench",
        ],
        cwd=dest,
        check=True,
    )
    return dest


@dataclass
class Watched:
    wall_s: float
    peak_rss_mb: float
    stages: dict[str, dict[str, float]]


# Runs a command and prints, last, the kernel's high-water mark of the largest process in its tree
# (RUSAGE_CHILDREN covers every descendant that was waited for; Linux counts it in KiB).
HIGH_WATER = """
import resource, subprocess, sys
code = subprocess.run(sys.argv[1:]).returncode
print(f"maxrss_kib={resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}", file=sys.stderr)
sys.exit(code)
"""


def stage_of(argv: Sequence[str]) -> str | None:
    """The dvc.yaml stage a process runs, from its script (None if it runs none): the script
    `stages/<pipeline>/<step>.py` runs the stage `<pipeline>_<step>`, `stages/report.py`
    `report`."""
    script = next((a for a in argv if a.startswith("stages/") and a.endswith(".py")), None)
    if script is None:
        return None
    folder, name = Path(script).parent.name, Path(script).stem
    return name if folder == "stages" else f"{folder}_{name}"


def run_watched(command: Sequence[str], cwd: Path, interval: float = 0.1) -> Watched:
    """Run `command`: total wall time, the peak RSS of its largest process (the kernel's
    high-water mark), and per stage seen (`stage_of`) its wall time and peak RSS, sampled every
    `interval` seconds. No peak read is a failure, never a peak of 0 that would meet a memory
    target."""
    log = cwd / f".bench-{int(time.time() * 1000)}.log"
    with log.open("w") as stderr:
        wrapped = [sys.executable, "-c", HIGH_WATER, *command]
        process = psutil.Popen(wrapped, cwd=cwd, env=_env(), stdout=stderr, stderr=stderr)
        start = time.perf_counter()
        peak, stages = 0, {}
        while process.poll() is None:
            now = time.perf_counter() - start
            try:
                tree = [process, *process.children(recursive=True)]
            except psutil.NoSuchProcess:
                tree = []
            for member in tree:
                try:
                    rss, argv = member.memory_info().rss, member.cmdline()
                except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                    continue
                peak = max(peak, rss)
                stage = stage_of(argv)
                if stage is None or not member.name().startswith("python"):
                    continue
                seen = stages.setdefault(stage, {"first": now, "last": now, "peak_rss_mb": 0.0})
                seen["last"] = now
                seen["peak_rss_mb"] = max(seen["peak_rss_mb"], rss / 2**20)
            time.sleep(interval)
        wall = time.perf_counter() - start
    output = log.read_text(errors="replace")
    if process.returncode:
        raise RuntimeError(f"{' '.join(command)} failed in {cwd}:\n{output[-3000:]}")
    marks = [line for line in output.splitlines() if line.startswith("maxrss_kib=")]
    if not marks or int(marks[-1].split("=")[1]) <= 0:
        raise RuntimeError(f"{' '.join(command)}: the peak RSS of its processes could not be read")
    peak = max(peak, int(marks[-1].split("=")[1]) * 1024)
    log.unlink()
    per_stage = {
        name: {
            "wall_s": round(s["last"] - s["first"] + interval, 1),
            "peak_rss_mb": round(s["peak_rss_mb"]),
        }
        for name, s in stages.items()
    }
    return Watched(wall, peak / 2**20, per_stage)


def _quiet(command: Sequence[str], cwd: Path) -> None:
    """`command` in `cwd` with the bench's environment; its output is kept out of the log."""
    subprocess.run(list(command), cwd=cwd, env=_env(), check=True, capture_output=True)


def _timed(command: Sequence[str], cwd: Path) -> float:
    start = time.perf_counter()
    _quiet(command, cwd)
    return time.perf_counter() - start


def stage_commands(repo: Path) -> list[tuple[str, list[str]]]:
    """Each stage's script and arguments from dvc.yaml, in file order (a topological order)."""
    spec = yaml.safe_load((repo / "dvc.yaml").read_text())
    params = read_params(repo)

    def resolve(token: str) -> str:
        if token.startswith("${") and token.endswith("}"):
            node = params
            for key in token[2:-1].split("."):
                node = node[key]
            return str(node)
        return token

    commands = []
    for name, stage in spec["stages"].items():
        words = stage["cmd"].split()
        assert words[0] == "${python}", f"unexpected command for {name}"
        commands.append((name, [resolve(w) for w in words[1:]]))
    return commands


def stage_python(repo: Path) -> list[str]:
    """How dvc.yaml starts each stage's script (its `python` variable), as an `env` command."""
    spec = yaml.safe_load((repo / "dvc.yaml").read_text())
    (python,) = [v["python"] for v in spec["vars"] if isinstance(v, dict) and "python" in v]
    return ["env", *python.split()]


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


def bench_pipeline(
    workdir: Path, overrides: dict[str, Any], repeats: int = 3
) -> tuple[list[Result], Path]:
    """`dvc repro` from scratch vs the same stage scripts run in one Python process, the median
    of `repeats` runs of each; no-op repro vs `dvc status`. Returns the results and the last
    built copy, which later sections use."""
    _log(f"pipeline: dvc repro from scratch (default params, {overrides or 'no overrides'})")
    dvc_runs, one_process_runs = [], []
    for attempt in range(repeats):  # run-to-run noise (about 10%) exceeds the target's margin
        built = project_copy(workdir / f"dvc_{attempt}", overrides)
        watched = run_watched(["dvc", "repro"], built)
        dvc_runs.append(watched)
        _log(f"pipeline: dvc repro took {watched.wall_s:.0f} s; now the stages in one process")
        bare = project_copy(workdir / f"bare_{attempt}", overrides)
        start = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-c", IN_PROCESS, json.dumps(stage_commands(bare))],
            cwd=bare, env=_env(), check=True, capture_output=True, text=True,
        )  # fmt: skip
        one_process_runs.append(time.perf_counter() - start)
        stage_times = json.loads(done.stdout.strip().splitlines()[-1])
        shutil.rmtree(bare, ignore_errors=True)
    dvc_s = statistics.median(w.wall_s for w in dvc_runs)
    in_process = statistics.median(one_process_runs)
    _log("pipeline: no-op dvc repro vs dvc status (median of 5)")
    noop = statistics.median(_timed(["dvc", "repro"], built) for _ in range(5))
    status = statistics.median(_timed(["dvc", "status"], built) for _ in range(5))
    return [
        _check(
            "dvc repro / stages in one process",
            dvc_s / in_process,
            "<=",
            1.25,
            dvc_repro_s=[round(w.wall_s, 1) for w in dvc_runs],
            one_process_s=[round(t, 1) for t in one_process_runs],
            of="medians",
            one_process_stage_s={k: round(v, 1) for k, v in stage_times.items()},
            dvc_stages=watched.stages,
            peak_rss_mb=round(watched.peak_rss_mb),
        ),
        _check(
            "no-op dvc repro / dvc status",
            noop / status,
            "<=",
            1.3,
            noop_repro_s=round(noop, 2),
            status_s=round(status, 2),
        ),
    ], built


def built_copy(
    workdir: Path, overrides: dict[str, Any], *, timed: bool
) -> tuple[list[Result], Path]:
    """The built copy the later sections use: with the `pipeline` section's measurements when
    `timed`, else one plain `dvc repro`."""
    if timed:
        return bench_pipeline(workdir, overrides)
    built = project_copy(workdir / "built", overrides)
    _log("building a copy with dvc repro for the sections that use it")
    _quiet(["dvc", "repro"], built)
    return [], built


def _load_split(built: Path, name: str) -> pd.DataFrame:
    return pd.read_parquet(built / "data/split" / f"{name}.parquet")


FAMILY_PEERS = ("hist_gradient_boosting", "lightgbm")  # compared on the same split and budget


def family_run(params: dict[str, Any], family: str, built: Path) -> dict[str, float]:
    """`family` as `tune` and `train` would make it, timed: the study on the params' budget, the
    best settings fitted on the whole training split, then test ROC-AUC and the full pipeline's
    scoring speed on the raw test records (the best of three passes)."""
    import optuna  # noqa: PLC0415
    from sklearn.metrics import roc_auc_score  # noqa: PLC0415

    from leadsift.core import tuning  # noqa: PLC0415
    from leadsift.leads.models import pipeline_from_params  # noqa: PLC0415
    from leadsift.leads.schema import ColumnRoles, raw_records  # noqa: PLC0415
    from leadsift.leads.tuning import objective_from_params  # noqa: PLC0415

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    params = {**params, "model": {**params["model"], "family": family}}
    settings, roles = params["tune"], ColumnRoles.from_params(params["leads"])
    train, test = _load_split(built, "train"), _load_split(built, "test")
    sample = tuning.sample_rows(train, settings["max_rows"], settings["seed"])
    _log(f"quality: tuning {family}, {settings['n_trials']} trials as `tune` runs them")
    start = time.perf_counter()
    evaluate, _ = objective_from_params(params, sample, _load_split(built, "validation"))
    study = tuning.run_study(
        evaluate, n_trials=settings["n_trials"], seed=settings["seed"], pruner=settings["pruner"]
    )
    tune_s = time.perf_counter() - start
    hyperparams = {**(params["model"].get(family) or {}), **study.best_params}
    pipeline = pipeline_from_params(params, roles, hyperparams)
    start = time.perf_counter()
    pipeline.fit(raw_records(train, roles), train[roles.target].to_numpy())
    fit_s = time.perf_counter() - start
    records, passes = raw_records(test, roles), []
    for _ in range(3):
        start = time.perf_counter()
        probability = pipeline.predict_proba(records)[:, 1]
        passes.append(time.perf_counter() - start)
    return {
        "roc_auc": float(roc_auc_score(test[roles.target], probability)),
        "tune_s": tune_s,
        "fit_s": fit_s,
        "rows_per_s": len(records) / min(passes),
    }


def bench_quality(built: Path) -> list[Result]:
    """Test ROC-AUC against the Bayes ceiling, and the two boosting families against each other
    on the same split with the same tuning budget (`tune` params): ROC-AUC, fit time, scoring
    speed. The default family should be the faster one unless it costs over 0.001 ROC-AUC."""
    metrics = json.loads((built / "reports/evaluation.json").read_text())["test"]
    params = read_params(built)
    runs = {family: family_run(params, family, built) for family in FAMILY_PEERS}
    default = params["model"]["family"]
    other = next(f for f in FAMILY_PEERS if f != default)
    common = {
        "families": {
            f: {k: round(v, 6 if k == "roc_auc" else 1) for k, v in r.items()}
            for f, r in runs.items()
        },
        "n_trials": params["tune"]["n_trials"],
        "train_rows": len(_load_split(built, "train")),
    }
    return [
        _check(
            "test ROC-AUC / Bayes ROC-AUC",
            metrics["roc_auc"] / metrics["bayes_roc_auc"],
            ">=",
            0.98,
            roc_auc=metrics["roc_auc"],
            bayes_roc_auc=metrics["bayes_roc_auc"],
            leads=params["generate"]["n_leads"],
        ),
        _check(
            f"default family ({default}) test ROC-AUC - {other}'s, same tuning budget",
            runs[default]["roc_auc"] - runs[other]["roc_auc"],
            ">=",
            -0.001,
            **common,
        ),
        _check(
            f"{other} fit time / default family's ({default})",
            runs[other]["fit_s"] / runs[default]["fit_s"],
            ">=",
            1.0,
            "x",
            **common,
        ),
        _check(
            f"default family's ({default}) scoring rows/s / {other}'s",
            runs[default]["rows_per_s"] / runs[other]["rows_per_s"],
            ">=",
            1.0,
            "x",
            **common,
        ),
    ]


def bench_tuning(built: Path, n_trials: int, seeds: Sequence[int] = (0, 1, 2)) -> list[Result]:
    """TPE (what `tune` runs) vs random search, with the same pruner and the same number of
    trials, enough that TPE's random start-up trials are a minority."""
    import optuna  # noqa: PLC0415

    from leadsift.core import tuning  # noqa: PLC0415
    from leadsift.leads.tuning import objective_from_params  # noqa: PLC0415

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    params = read_params(built)
    settings = params["tune"]
    train = tuning.sample_rows(_load_split(built, "train"), settings["max_rows"], settings["seed"])
    evaluate, _ = objective_from_params(params, train, _load_split(built, "validation"))
    runs: dict[str, list[dict[str, float]]] = {"tpe": [], "random": []}
    for seed in seeds:
        tpe = optuna.samplers.TPESampler(seed=seed)  # as `tune` makes it: default start-up
        for name, sampler in (("tpe", tpe), ("random", optuna.samplers.RandomSampler(seed=seed))):
            _log(f"tuning: {name} seed {seed}, {n_trials} trials, pruner {settings['pruner']}")
            start = time.perf_counter()
            study = tuning.run_study(
                evaluate, n_trials=n_trials, seed=seed, pruner=settings["pruner"], sampler=sampler
            )
            runs[name].append({"best": study.best_value, "wall_s": time.perf_counter() - start})
    mean = {k: float(np.mean([r["best"] for r in v])) for k, v in runs.items()}
    wall = {k: float(np.mean([r["wall_s"] for r in v])) for k, v in runs.items()}
    return [
        _check(
            "TPE mean best - random mean best",
            mean["tpe"] - mean["random"],
            ">=",
            0.0,
            metric=settings["metric"],
            n_trials=n_trials,
            tpe_startup_trials=inspect.signature(optuna.samplers.TPESampler)
            .parameters["n_startup_trials"]
            .default,
            pruner=settings["pruner"],
            seeds=list(seeds),
            tpe_best=[round(r["best"], 6) for r in runs["tpe"]],
            random_best=[round(r["best"], 6) for r in runs["random"]],
            tpe_mean_wall_s=round(wall["tpe"], 1),
            random_mean_wall_s=round(wall["random"], 1),
        )
    ]


def bench_throughput(built: Path, workdir: Path) -> list[Result]:
    """prepare + featurize (read, clean, features, write) vs reading the CSV and writing parquet
    with pyarrow alone, on the same raw file."""
    import pyarrow.csv as pv  # noqa: PLC0415
    import pyarrow.parquet as pq  # noqa: PLC0415

    from leadsift.core.io import write_parquet  # noqa: PLC0415
    from leadsift.leads.cleaning import clean_leads, cleaning_options  # noqa: PLC0415
    from leadsift.leads.features import add_features  # noqa: PLC0415
    from leadsift.leads.schema import ColumnRoles, load_raw_table  # noqa: PLC0415

    params = read_params(built)
    roles = ColumnRoles.from_params(params["leads"])
    raw = built / params["leads"]["raw_path"]
    _log("throughput: pyarrow floor, then prepare + featurize")
    start = time.perf_counter()
    table = pv.read_csv(raw)
    pq.write_table(table, workdir / "floor.parquet")
    floor_s = time.perf_counter() - start
    rows = table.num_rows

    start = time.perf_counter()
    result = clean_leads(
        load_raw_table(raw, roles, "leads.raw_path"),
        roles,
        **cleaning_options(params),
        source=str(raw),
    )
    write_parquet(workdir / "leads.parquet", result.clean)
    write_parquet(workdir / "quarantine.parquet", result.quarantine)
    features = add_features(result.clean, roles.interaction_groups, roles.timestamp)
    write_parquet(workdir / "features.parquet", features)
    ours_s = time.perf_counter() - start
    return [
        _check(
            "prepare+featurize rows/s / pyarrow floor",
            (rows / ours_s) / (rows / floor_s),
            ">=",
            1 / 3,
            rows=rows,
            ours_rows_per_s=round(rows / ours_s),
            pyarrow_rows_per_s=round(rows / floor_s),
        )
    ]


def _lead_batch(n: int, seed: int) -> pd.DataFrame:
    from leadsift.leads.synth import TARGET, Dirt, generate_leads  # noqa: PLC0415

    params = read_params(ROOT)["generate"]
    export, _ = generate_leads(
        n,
        start="2026-01-01",
        days=31,
        genuine_rate=params["genuine_rate"],
        world_seed=params["world_seed"],
        sample_seed=seed,
        dirt=Dirt(**params["dirt"]),
    )
    return export.drop(columns=TARGET)


def bench_scoring(built: Path, workdir: Path, n: int = 1_000_000) -> list[Result]:
    """Batch scoring of a 1M-lead CSV as the `score` stage does it: read, then clean and score
    (`clean_and_score`); without and with the per-lead reasons. Cleaning alone and the model
    alone are timed too, for the breakdown."""
    from leadsift.leads.cleaning import clean_leads, cleaning_options  # noqa: PLC0415
    from leadsift.leads.schema import ColumnRoles, load_raw_table, raw_records  # noqa: PLC0415
    from leadsift.leads.scoring import clean_and_score, load_scoring_model  # noqa: PLC0415

    params = read_params(built)
    roles, options = ColumnRoles.from_params(params["leads"]), cleaning_options(params)
    _log(f"scoring: generating {n:,} leads")
    path = workdir / "score_batch.csv"
    _lead_batch(n, seed=9001).to_csv(path, index=False)
    model, _ = load_scoring_model(str(built / "models/sales"))
    _log("scoring: read, clean and score")
    start = time.perf_counter()
    batch = load_raw_table(path, roles, "score.input", labelled=False)
    read_s = time.perf_counter() - start
    scored_s = {}
    for with_reasons in (False, True):
        _log(f"scoring: clean and score {'with' if with_reasons else 'without'} reasons")
        start = time.perf_counter()
        clean_and_score(
            model,
            batch,
            roles,
            **options,
            source=str(path),
            model_version="b",
            with_reasons=with_reasons,
        )
        scored_s[with_reasons] = time.perf_counter() - start
    start = time.perf_counter()
    clean = clean_leads(batch, roles, **options, source=str(path), labelled=False).clean
    clean_s = time.perf_counter() - start
    records = raw_records(clean, roles)
    start = time.perf_counter()
    model.predict_proba(records)
    model_s = time.perf_counter() - start
    details = dict(
        stated_at="1,000,000 leads",
        rows=n,
        read_s=round(read_s, 1),
        clean_and_score_s=round(scored_s[False], 1),
        clean_and_score_with_reasons_s=round(scored_s[True], 1),
        clean_alone_s=round(clean_s, 1),
        model_only_rows_per_s=round(len(records) / model_s),
    )
    results = []
    for with_reasons, target in ((False, 250_000), (True, 50_000)):
        rate = n / (read_s + scored_s[with_reasons])
        name = "batch scoring rows/s (read+clean+score" + (
            " with reasons)" if with_reasons else ")"
        )
        met = rate >= target if n == 1_000_000 else None
        results.append(Result(name, round(rate, 6), f">= {target}", met, "rows/s", details))
    return results


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _post_lead(connection: http.client.HTTPConnection, lead: dict) -> tuple[float, int, dict]:
    """One lead to /invocations: the latency in ms, the status and the answer."""
    body = json.dumps({"dataframe_records": [lead]})
    start = time.perf_counter()
    connection.request("POST", "/invocations", body, {"Content-Type": "application/json"})
    response = connection.getresponse()
    answer = json.loads(response.read())
    return (time.perf_counter() - start) * 1000, response.status, answer


def post_concurrently(port: int, shares: list[list[dict]]) -> list[tuple[list[float], int]]:
    """Each share of leads sent to the server on `port`, one lead per request, by its own client
    thread on its own keep-alive connection, as a CRM's threads would send them; per client, the
    latencies in ms and the errors (a failed request, or an answer other than 200)."""
    from concurrent.futures import ThreadPoolExecutor  # noqa: PLC0415

    def client(share: list[dict]) -> tuple[list[float], int]:
        own = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        times, errors = [], 0
        for lead in share:
            try:
                elapsed, status, _ = _post_lead(own, lead)
            except (OSError, http.client.HTTPException, ValueError):
                errors, own = errors + 1, http.client.HTTPConnection("127.0.0.1", port)
                continue
            times.append(elapsed)
            errors += status != 200
        own.close()
        return times, errors

    with ThreadPoolExecutor(len(shares)) as executor:
        return list(executor.map(client, shares))


def _wait_for_ping(port: int, server: subprocess.Popen, seconds: float = 120) -> None:
    """Until /ping answers 200; raise if the server dies or the deadline passes."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            connection.request("GET", "/ping")
            pong = connection.getresponse()
            pong.read()
            connection.close()
            if pong.status == 200:
                return
        except OSError:
            pass
        if time.monotonic() > deadline or server.poll() is not None:
            raise RuntimeError(f"the scoring server did not answer /ping with 200 in {seconds:g} s")
        time.sleep(0.5)


def _one_by_one(connection: http.client.HTTPConnection, leads: list[dict]) -> tuple[list, int]:
    """Each lead in its own request: the latencies in ms and how many answers gave reasons."""
    latencies, reasons = [], 0
    for lead in leads:
        elapsed, status, answer = _post_lead(connection, lead)
        if status != 200:
            raise RuntimeError(f"serving answered {status}: {answer}")
        latencies.append(elapsed)
        reasons += bool(answer["predictions"][0].get("raises_1"))
    return latencies, reasons


def bench_serving(
    built: Path, requests: int = 1000, clients: int = 8, concurrent_requests: int = 2000
) -> list[Result]:
    """Latency of single-lead requests to `make serve`'s server (the sales model: score, tier and
    reasons) over loopback, after a warm-up: one client (numbers as JSON numbers; then half as many
    with every value as text, as a CSV row or the documented curl sends them), then `clients`
    concurrent clients sharing `concurrent_requests`. Each client keeps its connection open as a
    CRM's would; the server closes it after each answer, and the client reconnects. The leads are
    drawn dirty and cleaned as batch scoring cleans them, so each meets the contract and gets a
    200."""
    from leadsift.leads.cleaning import clean_leads, cleaning_options  # noqa: PLC0415
    from leadsift.leads.schema import ColumnRoles, raw_records  # noqa: PLC0415

    params = read_params(built)
    roles = ColumnRoles.from_params(params["leads"])
    batch = _lead_batch(2 * (requests + concurrent_requests), seed=9002)
    clean = clean_leads(
        batch, roles, **cleaning_options(params), source="bench", labelled=False
    ).clean
    records = raw_records(clean, roles)
    leads = json.loads(records.to_json(orient="records"))
    # the same leads as text, as a CSV row or the documented curl sends them
    texts = json.loads(records.astype(str).where(records.notna(), None).to_json(orient="records"))
    port = _free_port()
    command = [
        sys.executable,
        "-m",
        "leadsift.serve",
        "--model",
        "models/sales",
        "--port",
        str(port),
    ]
    server = subprocess.Popen(
        command, cwd=built, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    try:
        _wait_for_ping(port, server)
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        _one_by_one(connection, leads[:50])  # warm-up
        latencies, reasons = _one_by_one(connection, leads[50 : requests + 50])
        text_latencies, _ = _one_by_one(connection, texts[: requests // 2])
        connection.close()

        pool = leads[requests + 50 : requests + 50 + concurrent_requests]
        done = post_concurrently(port, [pool[k::clients] for k in range(clients)])
    finally:
        os.killpg(server.pid, 15)
        server.wait(timeout=30)
    p50, p99 = np.percentile(latencies, [50, 99])
    text50, text99 = np.percentile(text_latencies, [50, 99])
    together = [t for times, _ in done for t in times]
    errors = sum(e for _, e in done)
    c50, c99 = np.percentile(together, [50, 99]) if together else (math.nan, math.nan)
    return [
        _check(
            "serving p99 latency",
            p99,
            "<=",
            20,
            "ms",
            p50_ms=round(p50, 2),
            requests=len(latencies),
            answers_with_reasons=reasons,
            leads_as_text_p50_ms=round(text50, 2),
            leads_as_text_p99_ms=round(text99, 2),
            leads_as_text_requests=len(text_latencies),
        ),
        Result(
            f"serving p99 latency, {clients} concurrent clients",
            round(float(c99), 6),
            "<= 100, no error",
            bool(errors == 0 and c99 <= 100),
            "ms",
            {"p50_ms": round(float(c50), 2), "requests": len(pool), "errors": errors},
        ),
    ]


def size_targets(
    runs: dict[int, Watched], unit: str, large: int, small: int, tolerance: float = 0.2
) -> list[Result]:
    """The two scale targets over runs keyed by size in `unit`s: peak RSS at the largest run
    (<= 4 GB) and its time per unit / that at the smallest (<= 1.2). They are stated at `large`
    (and `small`) units, so each is judged only when the runs are within `tolerance` of those
    sizes; `met` is null otherwise, with the stated size in the details."""
    largest, smallest = max(runs), min(runs)

    def near(n: int, target: int) -> bool:
        return abs(n - target) <= tolerance * target

    peak = runs[largest].peak_rss_mb
    results = [
        Result(
            f"peak RSS at {largest:,} {unit}s",
            round(peak),
            "<= 4096",
            peak <= 4096 if near(largest, large) else None,
            "MB",
            {"stated_at": f"{large:,} {unit}s", "stages": runs[largest].stages},
        )
    ]
    if largest != smallest:
        per = {n: runs[n].wall_s / n for n in runs}
        ratio = per[largest] / per[smallest]
        results.append(
            Result(
                f"time per {unit} at {largest:,} / at {smallest:,}",
                round(ratio, 6),
                "<= 1.2",
                ratio <= 1.2 if near(largest, large) and near(smallest, small) else None,
                details={
                    "stated_at": f"{large:,} vs {small:,} {unit}s",
                    f"us_per_{unit}": {f"{n:,}": round(per[n] * 1e6, 2) for n in runs},
                    "wall_s": {f"{n:,}": round(runs[n].wall_s) for n in runs},
                    "peak_rss_mb": {f"{n:,}": round(runs[n].peak_rss_mb) for n in runs},
                    "stages": {f"{n:,}": runs[n].stages for n in runs},
                },
            )
        )
    return results


def bench_scale(workdir: Path, sizes: Sequence[int]) -> list[Result]:
    """`dvc repro train` (generate → prepare → featurize → split → tune → train) at each size:
    wall time per lead and the largest process's peak RSS, judged at 10M vs 1M leads."""
    runs = {}
    for n in sizes:
        _log(f"scale: generate → train at {n:,} leads")
        repo = project_copy(workdir / f"scale_{n}", {"generate.n_leads": n})
        runs[n] = run_watched(["dvc", "repro", "train"], repo)
        _log(f"scale: {n:,} leads took {runs[n].wall_s:.0f} s, peak {runs[n].peak_rss_mb:.0f} MB")
        shutil.rmtree(repo, ignore_errors=True)
    return size_targets(runs, "lead", 10_000_000, 1_000_000)


# The customers pipeline (sections `segmentation` and `segmentation_scale`).


def customer_stages(repo: Path) -> list[str]:
    """The customers pipeline's stages in dvc.yaml (`dvc repro` of them all builds nothing else)."""
    stages = yaml.safe_load((repo / "dvc.yaml").read_text())["stages"]
    return [name for name in stages if name.startswith("customers_")]


WALL_TIME_OUTPUT = "/trials.csv"  # its duration_s column differs on purpose (dvc.yaml)


def locked_outs(repo: Path, stages: Sequence[str]) -> dict[str, str]:
    """`stage:path -> md5` of the stages' outputs in dvc.lock."""
    lock = yaml.safe_load((repo / "dvc.lock").read_text())["stages"]
    return {f"{stage}:{out['path']}": out["md5"] for stage in stages for out in lock[stage]["outs"]}


def bench_segmentation(workdir: Path, overrides: dict[str, Any]) -> list[Result]:
    """The customers pipeline from scratch at the default size in two clean copies: its wall
    time, agreement with the generator's truth, a no-op repro, identical dvc.lock hashes, and the
    revenue forecast against the truth."""
    builds = []
    for copy in ("first", "second"):
        repo = project_copy(workdir / f"customers_{copy}", overrides)
        stages = customer_stages(repo)
        _log(f"segmentation: dvc repro of the {len(stages)} customers stages ({copy} clean copy)")
        builds.append((repo, run_watched(["dvc", "repro", *stages], repo)))
    (repo, watched), (second, _) = builds
    # The same shop with its new customers arriving all along, not in a campaign the generator
    # plans (which its truth foresees and no history shows): the forecast's fair comparison.
    plain = project_copy(workdir / "customers_no_campaign", {**overrides, NO_CAMPAIGN: False})
    _log("segmentation: the forecast of the shop without the campaign")
    _quiet(["dvc", "repro", "customers_forecast"], plain)
    noop = subprocess.run(
        ["dvc", "repro", *stages], cwd=repo, env=_env(), capture_output=True, text=True, check=True
    )
    rerun = noop.stdout.count("Running stage")
    segments = json.loads((repo / "reports/customers/segments.json").read_text())
    lines = json.loads((repo / "reports/customers/data.json").read_text())["rows_in"]
    truth, k = segments["truth"], len(segments["segments"])
    different = sorted(
        out
        for out, md5 in locked_outs(repo, stages).items()
        if locked_outs(second, stages).get(out) != md5 and not out.endswith(WALL_TIME_OUTPUT)
    )
    return [
        _check(
            "segments ARI / Bayes ARI",
            truth["ari_share_of_ceiling"],
            ">=",
            0.9,
            ari=round(truth["ari"], 4),
            bayes_ari=round(truth["ari_ceiling"], 4),
            lines=lines,
        ),
        Result(
            "tuned k - true number of segments",
            k - truth["true_segments"],
            "= 0",
            k == truth["true_segments"],
            details={"k": k, "true_segments": truth["true_segments"]},
        ),
        _check(
            "customers pipeline from scratch",
            watched.wall_s,
            "<=",
            120,
            "s",
            lines=lines,
            stages=watched.stages,
            peak_rss_mb=round(watched.peak_rss_mb),
        ),
        Result("stages a no-op repro reruns", rerun, "= 0", rerun == 0),
        Result(
            "dvc.lock outputs differing between two clean builds",
            len(different),
            "= 0",
            not different,
            details={"differing": different, "excluded": f"*{WALL_TIME_OUTPUT} (wall times)"},
        ),
        *forecast_results(repo, watched, plain),
    ]


def _forecast_series(repo: Path) -> dict[str, Any]:
    """Every series' summary in a built copy's forecast.json."""
    return json.loads((repo / "reports/customers/forecast.json").read_text())["series"]


def forecast_results(repo: Path, watched: Watched, plain: Path) -> list[Result]:
    """The forecast of a built copy against the generator's expected revenue (and that of the
    `plain` copy, without the campaign) and the naive baseline, its interval coverage in the
    backtest, and the stage's wall time."""
    series = _forecast_series(repo)
    total, plain_total = series["total"], _forecast_series(plain)["total"]
    plain_chosen = plain_total["models"][plain_total["model"]]
    chosen, truth = total["models"][total["model"]], total["truth"]
    # the expectation learning of the campaign only when it begins, as a model of the history must
    from_history = truth["from_history"]["mase"]
    naive = total["models"]["naive"]
    settings = read_params(repo)["forecast"]
    level, points = settings["level"], settings["horizon"] * settings["origins"]
    chosen_by_series = [s["models"][s["model"]] for s in series.values()]
    covered = [e["coverage"] for e in chosen_by_series if e.get("coverage") is not None]
    return [
        _check(
            "forecast MASE / the expected revenue's",
            chosen["mase"] / truth["mase"],
            "<=",
            1.1,
            model=total["model"],
            mase=chosen["mase"],
            truth_mase=truth["mase"],
            truth_from_history_mase=from_history,
            ratio_to_truth_from_history=round(chosen["mase"] / from_history, 4),
            # this ratio for that expectation itself: the best a model of the history can expect
            history_floor=round(from_history / truth["mase"], 4),
        ),
        _check(
            "forecast MASE / the expected revenue's, shop without the campaign",
            plain_chosen["mase"] / plain_total["truth"]["mase"],
            "<=",
            1.1,
            model=plain_total["model"],
            mase=plain_chosen["mase"],
            truth_mase=plain_total["truth"]["mase"],
            next_total=round(plain_total["next"]["total"], 2),
            truth_next_total=round(plain_total["truth"]["next_total"], 2),
        ),
        _check(
            "forecast MASE / the naive baseline's",
            chosen["mase"] / naive["mase"],
            "<",
            1.0,
            mase=chosen["mase"],
            naive_mase=naive["mase"],
        ),
        _check(
            "forecast interval coverage, points from nominal",
            abs(chosen["coverage"] - level) * 100,
            "<=",
            10,
            coverage=chosen["coverage"],
            level=level,
            backtest_months=points,
            every_series_coverage=round(float(np.mean(covered)), 6),
            every_series_months=points * len(covered),
        ),
        _check(
            "customers_forecast stage",
            watched.stages["customers_forecast"]["wall_s"],
            "<=",
            30,
            "s",
        ),
    ]


def bench_segmentation_scale(workdir: Path, sizes: Sequence[int]) -> list[Result]:
    """The customers pipeline from scratch at each shop size (customers; the line counts follow):
    peak RSS and wall time per transaction line, judged at 5M vs 500k lines."""
    runs = {}
    for n in sizes:
        repo = project_copy(workdir / f"shop_{n}", {"generate_transactions.n_customers": n})
        _log(f"segmentation_scale: the customers pipeline for {n:,} customers")
        watched = run_watched(["dvc", "repro", *customer_stages(repo)], repo)
        lines = json.loads((repo / "reports/customers/data.json").read_text())["rows_in"]
        runs[lines] = watched
        _log(f"segmentation_scale: {lines:,} lines took {watched.wall_s:.0f} s, peak "
             f"{watched.peak_rss_mb:.0f} MB")  # fmt: skip
        shutil.rmtree(repo, ignore_errors=True)
    return size_targets(runs, "line", 5_000_000, 500_000)


def widened(
    leads: pd.DataFrame,
    rows: int,
    columns: int,
    *,
    category: str,
    counts: Sequence[str],
    seed: int = 0,
) -> pd.DataFrame:
    """`rows` leads (all of them, when there are fewer) with extra columns up to `columns`: a
    third categories (the levels of `category`, reshuffled), the rest counts (one of `counts` plus
    Poisson noise), all seeded."""
    rng = np.random.default_rng(seed)
    wide = leads.head(rows).reset_index(drop=True)
    for i in range(columns - wide.shape[1]):
        if i % 3 == 0:
            wide[f"extra_category_{i}"] = rng.permutation(wide[category].to_numpy())
        else:
            base = pd.to_numeric(wide[counts[i % len(counts)]], errors="coerce").fillna(0)
            wide[f"extra_count_{i}"] = base.clip(lower=0) + rng.poisson(1.0, len(wide))
    return wide


def bench_profile(workdir: Path, n_leads: int) -> list[Result]:
    """The data_profile stage's process (read, profile, figures, write) at `n_leads` leads, and on
    a 6,000 x 85 table (the leads widened, its extra columns declared in config.yaml)."""
    repo = project_copy(workdir / "profile", {"generate.n_leads": n_leads})
    _log(f"profile: generating {n_leads:,} leads")
    _quiet(["dvc", "repro", "generate"], repo)
    stage = dict(stage_commands(repo))["data_profile"]
    leads = run_watched([*stage_python(repo), *stage], repo)
    _log(f"profile: {n_leads:,} leads in {leads.wall_s:.1f} s")
    roles = read_params(repo)["leads"]
    counts = [c for group in roles["interaction_groups"].values() for c in group]
    raw = pd.read_csv(repo / "data/raw/leads.csv", dtype=str)
    wide = widened(raw, 6000, 85, category=roles["categorical"][0], counts=counts)
    wide.to_csv(repo / "data/raw/wide.csv", index=False)
    write_overrides(
        repo,
        {
            "leads.raw_path": "data/raw/wide.csv",
            "leads.categorical": [*roles["categorical"], *wide.filter(like="extra_category")],
            "leads.numeric": [*roles["numeric"], *wide.filter(like="extra_count")],
        },
    )
    command = [stage[0], "data/raw/wide.csv", "reports/wide"]
    table = run_watched([*stage_python(repo), *command], repo)
    _log(f"profile: a {wide.shape[0]:,} x {wide.shape[1]} table in {table.wall_s:.1f} s")
    return [
        Result(
            f"data_profile stage at {n_leads:,} leads",
            round(leads.wall_s, 2),
            "<= 15",
            leads.wall_s <= 15 if n_leads == 240_000 else None,
            "s",
            {"stated_at": "240,000 leads", "peak_rss_mb": round(leads.peak_rss_mb)},
        ),
        _check(
            f"data_profile stage on a {wide.shape[0]:,} x {wide.shape[1]} table",
            table.wall_s,
            "<=",
            30,
            "s",
            peak_rss_mb=round(table.peak_rss_mb),
        ),
    ]


# What would meet the scale targets where the pandas pipeline cannot (section `streaming`): the same
# generator, cleaning and features, but in bounded chunks; training by LightGBM from a binned
# dataset built batch by batch. Each step runs in its own process, so its peak RSS is its own.


def stream_generate(path: str, n: int, chunk: int) -> None:
    """Write `n` leads to one CSV, `chunk` leads at a time (chunk i drawn with sample_seed + i)."""
    from leadsift.leads.synth import Dirt, generate_leads  # noqa: PLC0415

    params = read_params(ROOT)["generate"]
    for i, first in enumerate(range(0, n, chunk)):
        export, _ = generate_leads(
            min(chunk, n - first),
            start=params["start"],
            days=params["days"],
            genuine_rate=params["genuine_rate"],
            world_seed=params["world_seed"],
            sample_seed=params["sample_seed"] + i,
            dirt=Dirt(**params["dirt"]),
            id_offset=first,
        )
        export.to_csv(path, mode="a" if i else "w", header=not i, index=False)


def _seen_before(hashes: np.ndarray, seen: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Which hashes are in the sorted array `seen`, and `seen` with them merged in (still sorted:
    a stable sort of two sorted runs is linear)."""
    if len(seen) == 0:
        found = np.zeros(len(hashes), dtype=bool)
    else:
        found = seen[np.minimum(np.searchsorted(seen, hashes), len(seen) - 1)] == hashes
    return found, np.sort(np.concatenate([seen, np.sort(hashes)]), kind="stable")


def stream_prepare(raw: str, out: str, block_bytes: int) -> None:
    """prepare + featurize over pyarrow's streaming CSV reader: each record batch is cleaned by
    `clean_leads` (the contract) and featurized, then appended to one parquet file. A row or id
    seen in an earlier batch is dropped (duplicates) or counted (repeated ids) by its hash."""
    import pyarrow as pa  # noqa: PLC0415
    import pyarrow.csv as pv  # noqa: PLC0415
    import pyarrow.parquet as pq  # noqa: PLC0415

    from leadsift.leads.cleaning import clean_leads, cleaning_options  # noqa: PLC0415
    from leadsift.leads.features import add_features  # noqa: PLC0415
    from leadsift.leads.schema import ColumnRoles  # noqa: PLC0415

    params = read_params(ROOT)
    roles = ColumnRoles.from_params(params["leads"])
    text = [*roles.categorical, roles.id, roles.timestamp, roles.target]
    reader = pv.open_csv(
        raw,
        # Threads would read ahead of the cleaning, holding many decoded blocks at once.
        read_options=pv.ReadOptions(block_size=block_bytes, use_threads=False),
        convert_options=pv.ConvertOptions(column_types=dict.fromkeys(text, pa.string())),
    )
    seen_rows, seen_ids = np.array([], np.uint64), np.array([], np.uint64)
    counts: dict[str, int] = {"rows_cross_batch_duplicate": 0, "ids_repeated_across_batches": 0}
    writer = None
    for batch in reader:
        result = clean_leads(
            batch.to_pandas(),
            roles,
            **cleaning_options(params),
            source=raw,
        )
        for key, value in result.counts.items():
            counts[key] = counts.get(key, 0) + value
        clean = result.clean
        row_hash = pd.util.hash_pandas_object(clean.drop(columns=roles.id), index=False).to_numpy()
        repeated, seen_rows = _seen_before(row_hash, seen_rows)
        counts["rows_cross_batch_duplicate"] += int(repeated.sum())
        clean = clean[~repeated]
        id_hash = pd.util.hash_pandas_object(clean[roles.id], index=False).to_numpy()
        repeated_ids, seen_ids = _seen_before(id_hash, seen_ids)
        counts["ids_repeated_across_batches"] += int(repeated_ids.sum())
        table = pa.Table.from_pandas(
            add_features(clean, roles.interaction_groups, roles.timestamp), preserve_index=False
        )
        writer = writer or pq.ParquetWriter(out, table.schema)
        writer.write_table(table.cast(writer.schema))
    writer.close()
    Path(out).with_suffix(".json").write_text(json.dumps(counts))


def stream_train(features: str, out: str) -> None:
    """LightGBM on every row group but the last (held out for ROC-AUC), its dataset binned from
    one row group at a time; category levels learned on the first row group."""
    import lightgbm  # noqa: PLC0415
    import pyarrow.parquet as pq  # noqa: PLC0415
    from sklearn.metrics import roc_auc_score  # noqa: PLC0415

    from leadsift.leads.features import derived_feature_names, levels_to_keep  # noqa: PLC0415
    from leadsift.leads.schema import ColumnRoles  # noqa: PLC0415

    params = read_params(ROOT)
    roles = ColumnRoles.from_params(params["leads"])
    columns = [
        *roles.categorical,
        *roles.numeric_inputs,
        *derived_feature_names(roles.interaction_groups, roles.timestamp),
    ]
    file = pq.ParquetFile(features)
    first = file.read_row_group(0, columns=roles.categorical).to_pandas()
    levels = {
        c: levels_to_keep(first[c].fillna("missing"), params["train"]["coverage"], 255)
        for c in roles.categorical
    }

    def matrix(group: int) -> np.ndarray:
        frame = file.read_row_group(group, columns=columns).to_pandas()
        for c in roles.categorical:  # level codes; unseen and rare levels share one code
            codes = pd.Categorical(frame[c].fillna("missing"), categories=levels[c]).codes
            frame[c] = np.where(codes < 0, len(levels[c]), codes)
        return frame.to_numpy(dtype=np.float64)

    loaded: dict[int, np.ndarray] = {}  # one row group in memory at a time

    class RowGroup(lightgbm.Sequence):
        def __init__(self, group: int) -> None:
            self.group = group

        def __len__(self) -> int:
            return file.metadata.row_group(self.group).num_rows

        def __getitem__(self, idx: int | slice) -> np.ndarray:
            # LightGBM reads in row order (sampling, then binning), so each group loads twice.
            if self.group not in loaded:
                loaded.clear()
                loaded[self.group] = matrix(self.group)
            return loaded[self.group][idx]

    train_groups = range(file.num_row_groups - 1)
    label = np.concatenate(
        [file.read_row_group(g, columns=[roles.target]).column(0).to_numpy() for g in train_groups]
    )
    dataset = lightgbm.Dataset(
        [RowGroup(g) for g in train_groups],
        label=label,
        feature_name=columns,
        categorical_feature=list(roles.categorical),
        params={"verbose": -1, "seed": 0},
    )
    booster = lightgbm.train({"objective": "binary", "verbose": -1, "seed": 0}, dataset)
    last = file.num_row_groups - 1
    holdout = file.read_row_group(last, columns=[roles.target]).column(0).to_numpy()
    auc = roc_auc_score(holdout, booster.predict(matrix(last)))
    Path(out).write_text(json.dumps({"train_rows": len(label), "holdout_roc_auc": auc}))


STREAM_STEP = (
    "import json, sys; from leadsift import bench; "
    "getattr(bench, sys.argv[1])(*json.loads(sys.argv[2]))"
)


def bench_streaming(
    workdir: Path, sizes: Sequence[int], chunk: int = 500_000, block_bytes: int = 32 << 20
) -> list[Result]:
    """generate → prepare + featurize → train in bounded chunks at each size (see above)."""
    runs: dict[int, dict[str, Watched]] = {}
    facts: dict[int, dict[str, Any]] = {}
    for n in sizes:
        folder = workdir / f"streaming_{n}"
        folder.mkdir()
        raw, features = folder / "leads.csv", folder / "features.parquet"
        steps = {
            "generate": ("stream_generate", [str(raw), n, chunk]),
            "prepare_featurize": ("stream_prepare", [str(raw), str(features), block_bytes]),
            "train": ("stream_train", [str(features), str(folder / "train.json")]),
        }
        runs[n] = {}
        for step, (function, args) in steps.items():
            _log(f"streaming: {step} at {n:,} leads")
            command = [sys.executable, "-c", STREAM_STEP, function, json.dumps(args)]
            runs[n][step] = run_watched(command, ROOT)
        facts[n] = {
            **json.loads(features.with_suffix(".json").read_text()),
            **json.loads((folder / "train.json").read_text()),
        }
        shutil.rmtree(folder, ignore_errors=True)
    largest, smallest = max(sizes), min(sizes)
    wall = {n: sum(w.wall_s for w in runs[n].values()) for n in sizes}
    per_step = {
        f"{n:,}": {
            step: {"wall_s": round(w.wall_s, 1), "peak_rss_mb": round(w.peak_rss_mb)}
            for step, w in runs[n].items()
        }
        for n in sizes
    }
    results = [
        _check(
            f"streaming: peak RSS at {largest:,} leads",
            max(w.peak_rss_mb for w in runs[largest].values()),
            "<=",
            4096,
            "MB",
            steps=per_step[f"{largest:,}"],
            **facts[largest],
        )
    ]
    if largest != smallest:
        results.append(
            _check(
                f"streaming: time per lead at {largest:,} / at {smallest:,}",
                (wall[largest] / largest) / (wall[smallest] / smallest),
                "<=",
                1.2,
                us_per_lead={f"{n:,}": round(wall[n] / n * 1e6, 2) for n in sizes},
                steps=per_step,
                facts={f"{n:,}": facts[n] for n in sizes},
            )
        )
    return [as_prototype(r) for r in results]


PROTOTYPE = (
    "the streaming functions in this module, not the pipeline: their own reading, duplicate rules, "
    "features, level collapsing and LightGBM defaults, no split or tuning; not the pipeline's scale"
)


def as_prototype(result: Result) -> Result:
    """A row measuring the bench's own streaming prototype: named so, and never `met`."""
    name = result.name.removeprefix("streaming: ")
    details = {**result.details, "prototype": PROTOTYPE, "would_meet": result.met}
    return replace(result, name=f"prototype (streaming): {name}", met=None, details=details)


def _met_text(result: Result) -> str:
    if result.met is not None:
        return "yes" if result.met else "NO"
    if "prototype" in result.details:
        return "n/a (prototype)"
    return f"n/a (stated at {result.details.get('stated_at', 'another size')})"


CODE = ["src", "stages", "dvc.yaml", "params.yaml", "config.yaml", "requirements.txt"]


def code_fingerprint(root: Path = ROOT) -> str:
    """A hash of the code and settings a measurement ran (tracked or new files, as they are now),
    so a row measured on other code than today's is recognisably stale."""
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "--", *CODE],
        cwd=root, capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    digest = hashlib.sha256()
    for name in sorted(listed):
        if (root / name).is_file():
            digest.update(name.encode() + b"\0" + (root / name).read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def cpu_model() -> str | None:
    """The CPU's model name as the kernel reports it (Linux), else what Python knows."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or None


def reference_seconds(repeats: int = 3) -> float:
    """The best of `repeats` timings of a fixed one-core workload (sorting 4,000,000 seeded floats,
    then a Python loop of 2,000,000 steps): how fast this machine is, so that the absolute times
    of runs on different machines can be compared (rows/s x reference_s is about constant)."""
    values = np.random.default_rng(0).random(4_000_000)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        np.sort(values)
        total = 0
        for step in range(2_000_000):
            total += step & 7
        best = min(best, time.perf_counter() - start)
    return round(best, 3)


def this_run(sections: Sequence[str], duration_s: int, reference_s: float) -> dict[str, Any]:
    """Where and on what a run measured: commit (and whether the tree had changes), the code's
    fingerprint, the time, the machine (with its CPU's model and speed on a fixed workload,
    `reference_s`) and the sections run."""
    git = ["git", "-C", str(ROOT)]
    head = subprocess.run(
        [*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    )
    status = subprocess.run(
        [*git, "status", "--porcelain", "--", *CODE], capture_output=True, check=False
    )
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    return {
        "id": f"{stamp} {head.stdout.strip()}",
        "commit": head.stdout.strip() or None,
        "uncommitted_changes": bool(status.stdout.strip()),
        "code": code_fingerprint(),
        "date": stamp,
        "machine": {
            "cpus": os.cpu_count(),
            "cpu": cpu_model(),
            "reference_s": reference_s,
            "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
            "python": platform.python_version(),
            "os": platform.platform(),
        },
        "sections": list(sections),
        "duration_s": duration_s,
    }


def markdown_table(report: dict[str, Any], code: str) -> str:
    """bench.json as a Markdown table: each row with the run it comes from, and `stale` when that
    run measured other code than `code` (today's fingerprint) or its code is unknown."""
    runs = {r["id"]: r for r in report["runs"]}
    lines = ["| measure | measured | target | met | run | code |", "|---|---|---|---|---|---|"]
    for row in report["results"]:
        run = runs.get(row.get("run"), {})
        if run.get("code") is None:
            state = "unknown (stamped afterwards)"
        else:
            state = "today's" if run["code"] == code else "stale"
        value = "n/a" if row["measured"] is None else f"{row['measured']:,.4g} {row['unit']}"
        met = _met_text(Result(**{k: v for k, v in row.items() if k != "run"}))
        changes = " + uncommitted changes" if run.get("uncommitted_changes") else ""
        where = f"{run.get('date', '?')[:10]} {run.get('commit') or '?'}{changes}"
        lines.append(
            f"| {row['name']} | {value.strip()} | {row['target']} | {met} | {where} | {state} |"
        )
    return "\n".join(lines)


def print_table(results: Sequence[Result]) -> None:
    width = max(len(r.name) for r in results)
    print(f"{'measure':<{width}}  {'measured':>14}  {'target':>12}  met")
    for r in results:
        value = "n/a" if r.measured is None else f"{r.measured:,.4g} {r.unit}".strip()
        print(f"{r.name:<{width}}  {value:>14}  {r.target:>12}  {_met_text(r)}")


def merged_report(
    previous: dict[str, Any] | None,
    results: Sequence[Result],
    run: dict[str, Any],
    sections: Sequence[str],
) -> dict[str, Any]:
    """bench.json after a run: a full run's rows alone; a partial run's rows, plus the previous
    rows of the sections it did not run (with their runs)."""
    kept, runs = [], [run]
    if previous is not None and set(sections) != set(SECTIONS):
        fresh = {r.name for r in results}
        kept = [
            r
            for r in previous["results"]
            if r["name"] not in fresh and r.get("section") not in sections
        ]
        used = {r["run"] for r in kept}
        runs = [r for r in previous["runs"] if r["id"] in used] + runs
    return {"runs": runs, "results": kept + [asdict(r) | {"run": run["id"]} for r in results]}


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", default=",".join(SECTIONS), help="comma-separated sections")
    parser.add_argument("--scale", help="lead counts for `scale` (1000000,3000000)")
    parser.add_argument("--streaming", help="lead counts for `streaming` (1000000,10000000)")
    parser.add_argument(
        "--leads",
        type=int,
        help="a smoke run: N leads for the built copy and the profile, N and 2N for the scale "
        "sections, N to score, N/20 customers for the shop (rows at other sizes: met null)",
    )
    parser.add_argument(
        "--customers",
        help="shop sizes (customers) for `segmentation_scale` (14400,145000: about 500,000 and "
        "5,000,000 lines)",
    )
    parser.add_argument(
        "--tuning-trials", type=int, default=60, help="trials per study in `tuning`"
    )
    parser.add_argument(
        "--shop-customers",
        type=int,
        help="generate_transactions.n_customers for `segmentation` (a smoke run)",
    )
    parser.add_argument("--out", default="reports/bench.json")
    parser.add_argument(
        "--table", action="store_true", help="print --out as Markdown (with staleness) and exit"
    )
    args = parser.parse_args(argv)
    if args.table:
        print(markdown_table(json.loads(Path(args.out).read_text()), code_fingerprint()))
        return
    n = args.leads
    sizes = {
        "scale": args.scale or (f"{n},{2 * n}" if n else "1000000,3000000"),
        "streaming": args.streaming or (f"{n},{2 * n}" if n else "1000000,10000000"),
        "customers": args.customers or (f"{n // 20},{n // 10}" if n else "14400,145000"),
    }
    sections = args.only.split(",")
    if unknown := set(sections) - set(SECTIONS):
        parser.error(f"unknown section(s) {sorted(unknown)}; choose from {list(SECTIONS)}")
    results: list[Result] = []
    reference_s = reference_seconds()
    _log(f"this machine: {cpu_model()}, the reference workload in {reference_s:.3f} s")
    workdir = Path(tempfile.mkdtemp(prefix="leadsift-bench-"))
    started = time.perf_counter()
    try:
        built = None
        overrides = {"generate.n_leads": args.leads} if args.leads else {}
        shop = args.shop_customers or (max(500, n // 20) if n else None)
        segmentation_overrides = {"generate_transactions.n_customers": shop} if shop else {}
        if set(sections) & {"pipeline", "quality", "tuning", "throughput", "scoring", "serving"}:
            pipeline, built = built_copy(workdir, overrides, timed="pipeline" in sections)
            results += [replace(r, section="pipeline") for r in pipeline]
        steps: dict[str, Callable[[], list[Result]]] = {
            "quality": lambda: bench_quality(built),
            "tuning": lambda: bench_tuning(built, args.tuning_trials),
            "throughput": lambda: bench_throughput(built, workdir),
            "scoring": lambda: bench_scoring(built, workdir, n or 1_000_000),
            "serving": lambda: bench_serving(built),
            "scale": lambda: bench_scale(workdir, [int(k) for k in sizes["scale"].split(",")]),
            "streaming": lambda: bench_streaming(
                workdir, [int(k) for k in sizes["streaming"].split(",")]
            ),
            "segmentation": lambda: bench_segmentation(workdir, segmentation_overrides),
            "segmentation_scale": lambda: bench_segmentation_scale(
                workdir, [int(k) for k in sizes["customers"].split(",")]
            ),
            "profile": lambda: bench_profile(workdir, args.leads or 240_000),
        }
        for name in SECTIONS[1:]:
            if name in sections:
                results += [replace(r, section=name) for r in steps[name]()]
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    out = Path(args.out)
    run = this_run(sections, round(time.perf_counter() - started), reference_s)
    previous = json.loads(out.read_text()) if out.is_file() else None
    report = merged_report(previous, results, run, sections)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print_table(results)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()

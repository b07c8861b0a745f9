"""What every section of the bench shares: rows judged against targets.py, copies of the project,
stage processes run as dvc.yaml writes them and watched, the run's stamp, bench.json and its
tables.

A section never rebuilds a stage from library calls: it runs the stage's own command from
dvc.yaml (`run_stage`), in a copy of the project, so what is timed is what `dvc repro` runs.
"""

from __future__ import annotations

import hashlib
import math
import os
import platform
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import psutil
import yaml

from leadsift.bench import targets
from leadsift.core.config import read_params, write_overrides
from leadsift.customers.synth_truth import planned_campaigns

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
CODE = ["src", "stages", "dvc.yaml", "params.yaml", "config.yaml", "requirements.txt"]


@dataclass
class Result:
    """One row of bench.json: a measured figure against its target."""

    name: str
    measured: float | None
    target: str  # e.g. ">= 0.98"
    met: bool | None
    unit: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    section: str = ""  # a partial run replaces the rows of the sections it ran


def check(
    name: str,
    value: float | None,
    *,
    at: Sequence[int] = (),
    also: bool = True,
    **details: Any,
) -> Result:
    """The row of the target `name` (targets.py) for `value` measured at sizes `at`: judged only
    where the target is stated (else `met` is null and the details say where it applies), and
    never when nothing could be measured (`value` None). `also` is the target's second
    condition, when it has one."""
    goal = targets.target(name)
    if at:
        details = {"at": goal.sizes(at), **details}
    if goal.stated_at:
        details["stated_at"] = goal.sizes(goal.stated_at)
    judged = value is not None and goal.applies_at(at)
    met = bool(goal.holds(value) and also) if judged else None
    measured = None if value is None else round(float(value), 6)
    return Result(name, measured, goal.text, met, goal.unit, details, goal.section)


def startup_subtracted(n: int, batch_s: float, startup_s: float) -> float | None:
    """Rows per second of a stage process's work on `n` rows: its time on them minus its time on
    one row, which is what a process costs before any data (imports, loading a model). None when
    the batch took no longer than that: too small to time."""
    work = batch_s - startup_s
    return n / work if work > 0 else None


def log(message: str) -> None:
    """A progress line on stderr: sections run for minutes."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def env() -> dict[str, str]:
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


def shop_size(n_customers: int, root: Path = ROOT) -> dict[str, Any]:
    """The params of the embedded shop (of the project at `root`) at `n_customers`, its
    calendar's campaign resized too."""
    return {
        "generate_transactions.n_customers": n_customers,
        "forecast_setup.campaigns": planned_campaigns(read_params(root), n_customers),
    }


def project_copy(dest: Path, overrides: dict[str, Any] | None = None) -> Path:
    """A fresh git + DVC repository holding the project's code and params (plus overrides), for
    sections that run `dvc repro`."""
    stage_copy(dest, overrides=overrides)
    for command in (["git", "init", "-q"], ["dvc", "init", "-q"], ["git", "add", "-A"]):
        quiet(command, dest)
    identity = ["-c", "user.name=bench", "-c", "user.email=bench@localhost"]
    quiet(["git", *identity, "commit", "-qm", "bench"], dest)
    return dest


def stage_copy(
    dest: Path,
    source: Path = ROOT,
    inputs: Sequence[str] = (),
    overrides: dict[str, Any] | None = None,
) -> Path:
    """The project files of `source` (the project, or a built copy) with the `inputs` its stages
    will read copied from it, and params overridden: a place to run stage commands (`run_stage`)
    without DVC."""
    copy_project(dest, source)
    for name in inputs:
        (dest / name).parent.mkdir(parents=True, exist_ok=True)
        if (source / name).is_dir():
            shutil.copytree(source / name, dest / name)
        else:
            shutil.copy2(source / name, dest / name)
    write_overrides(dest, overrides or {})
    return dest


@dataclass
class Watched:
    """A watched command: its wall time, its largest process's peak and what each stage took."""

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


def _sample(process: psutil.Popen, elapsed: float, stages: dict[str, dict[str, float]]) -> int:
    """One look at a running tree: the largest RSS in it now, and each stage process's span and
    peak so far recorded into `stages`."""
    try:
        tree = [process, *process.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0
    peak = 0
    for member in tree:
        try:
            rss, argv, name = member.memory_info().rss, member.cmdline(), member.name()
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
        peak = max(peak, rss)
        stage = stage_of(argv)
        if stage is None or not name.startswith("python"):
            continue
        seen = stages.setdefault(stage, {"first": elapsed, "last": elapsed, "peak_rss_mb": 0.0})
        seen["last"] = elapsed
        seen["peak_rss_mb"] = max(seen["peak_rss_mb"], rss / 2**20)
    return peak


def run_watched(command: Sequence[str], cwd: Path, interval: float = 0.1) -> Watched:
    """Run `command`: total wall time, the peak RSS of its largest process (the kernel's
    high-water mark), and per stage seen (`stage_of`) its wall time and peak RSS, sampled every
    `interval` seconds. No peak read is a failure, never a peak of 0 that would meet a memory
    target."""
    log_file = cwd / f".bench-{int(time.time() * 1000)}.log"
    with log_file.open("w") as output:
        wrapped = [sys.executable, "-c", HIGH_WATER, *command]
        process = psutil.Popen(wrapped, cwd=cwd, env=env(), stdout=output, stderr=output)
        start = time.perf_counter()
        peak, stages = 0, {}
        while process.poll() is None:
            peak = max(peak, _sample(process, time.perf_counter() - start, stages))
            time.sleep(interval)
        wall = time.perf_counter() - start
    text = log_file.read_text(errors="replace")
    if process.returncode:
        raise RuntimeError(f"{' '.join(command)} failed in {cwd}:\n{text[-3000:]}")
    marks = [line for line in text.splitlines() if line.startswith("maxrss_kib=")]
    if not marks or int(marks[-1].split("=")[1]) <= 0:
        raise RuntimeError(f"{' '.join(command)}: the peak RSS of its processes could not be read")
    peak = max(peak, int(marks[-1].split("=")[1]) * 1024)
    log_file.unlink()
    per_stage = {
        name: {
            "wall_s": round(s["last"] - s["first"] + interval, 1),
            "peak_rss_mb": round(s["peak_rss_mb"]),
        }
        for name, s in stages.items()
    }
    return Watched(wall, peak / 2**20, per_stage)


def quiet(command: Sequence[str], cwd: Path) -> subprocess.CompletedProcess:
    """`command` in `cwd` with the bench's environment; its output is kept out of the log."""
    return subprocess.run(
        list(command), cwd=cwd, env=env(), check=True, capture_output=True, text=True
    )


def timed(command: Sequence[str], cwd: Path) -> float:
    """The wall time of `command` in `cwd`, run quietly."""
    start = time.perf_counter()
    quiet(command, cwd)
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


def run_stage(repo: Path, stage: str) -> Watched:
    """The stage's own process, as `dvc repro` starts it (its dvc.yaml command, with the params
    of `repo` as they are now), watched."""
    return run_watched([*stage_python(repo), *dict(stage_commands(repo))[stage]], repo)


@dataclass
class Bench:
    """What the sections of one run share: its scratch folder, its sizes and the built copy of
    the project that the lead sections read."""

    workdir: Path
    leads: int | None = None  # a smoke run's size (`--leads`); None: each section's own
    tuning_trials: int = 60
    scale: tuple[int, ...] = (1_000_000, 3_000_000)
    customers: tuple[int, ...] = (14_400, 145_000)
    shop_customers: int | None = None
    clicks_default: int | None = None  # the `clicks` section's log (None: params.yaml's)
    clicks_sizes: tuple[int, ...] = (20_000_000, 185_000_000)
    built: Path | None = None  # set by the `pipeline` section when it runs

    @property
    def overrides(self) -> dict[str, Any]:
        """The params every lead copy gets: the smoke run's size, if any."""
        return {"generate.n_leads": self.leads} if self.leads else {}

    @property
    def shop_overrides(self) -> dict[str, Any]:
        """The params of the `segmentation` shop: its size, when the run sets one."""
        return shop_size(self.shop_customers) if self.shop_customers else {}

    @property
    def batch_leads(self) -> int:
        """How many leads the scoring batch holds (1,000,000, where its target is stated)."""
        return self.leads or 1_000_000

    def built_copy(self) -> Path:
        """The project built with `dvc repro` (default params), once per run: the `pipeline`
        section's last timed build, or an untimed one."""
        if self.built is None:
            log("building a copy with dvc repro for the sections that use it")
            self.built = project_copy(self.workdir / "built", self.overrides)
            quiet(["dvc", "repro"], self.built)
        return self.built


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


def code_state() -> dict[str, Any]:
    """The commit, whether the code has uncommitted changes, and its fingerprint, now: taken when
    a run starts, since its sections copy the project as they go."""
    git = ["git", "-C", str(ROOT)]
    head = subprocess.run(
        [*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    )
    status = subprocess.run(
        [*git, "status", "--porcelain", "--", *CODE], capture_output=True, check=False
    )
    return {
        "commit": head.stdout.strip() or None,
        "uncommitted_changes": bool(status.stdout.strip()),
        "code": code_fingerprint(),
    }


def this_run(
    sections: Sequence[str],
    duration_s: int,
    reference_s: float,
    started: Mapping[str, Any],
) -> dict[str, Any]:
    """Where and on what a run measured: commit (and whether the tree had changes), the code's
    fingerprint, the time, the machine (with its CPU's model and speed on a fixed workload,
    `reference_s`) and the sections run: `started` is `code_state` at its start, and code edited
    while the run went on is recorded as such, with no fingerprint (its copies may hold either)."""
    state = code_state()
    if started != state:
        state = {**started, "code": None, "code_edited_during_run": True}
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    return {
        "id": f"{stamp} {state['commit']}",
        **state,
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


def merged_report(
    previous: dict[str, Any] | None,
    results: Sequence[Result],
    run: dict[str, Any],
    sections: Sequence[str],
    every_section: Sequence[str],
) -> dict[str, Any]:
    """bench.json after a run: a full run's rows alone; a partial run's rows, plus the previous
    rows of the sections it did not run (with their runs)."""
    kept, runs = [], [run]
    if previous is not None and set(sections) != set(every_section):
        fresh = {r.name for r in results}
        kept = [
            r
            for r in previous["results"]
            if r["name"] not in fresh and r.get("section") not in sections
        ]
        used = {r["run"] for r in kept}
        runs = [r for r in previous["runs"] if r["id"] in used] + runs
    return {"runs": runs, "results": kept + [asdict(r) | {"run": run["id"]} for r in results]}


def measure_text(result: Result) -> str:
    """A row's name, with the size it was measured at when its target is stated at one."""
    at = result.details.get("at")
    return f"{result.name} (at {at})" if at else result.name


def value_text(result: Result) -> str:
    """A row's figure with its unit, `n/a` when nothing could be measured."""
    if result.measured is None or math.isnan(result.measured):
        return "n/a"
    return f"{result.measured:,.4g} {result.unit}".strip()


def met_text(result: Result) -> str:
    """yes, NO, or why the row is not judged."""
    if result.met is not None:
        return "yes" if result.met else "NO"
    if result.measured is None:
        return "n/a (not measurable at this size)"
    if "reported" in result.details:
        return "n/a (reported, not a target)"
    return f"n/a (stated at {result.details.get('stated_at', 'another size')})"


def markdown_table(report: dict[str, Any], code: str) -> str:
    """bench.json as a Markdown table: each row with the run it comes from, and `stale` when that
    run measured other code than `code` (today's fingerprint) or its code is unknown."""
    runs = {r["id"]: r for r in report["runs"]}
    lines = ["| measure | measured | target | met | run | code |", "|---|---|---|---|---|---|"]
    for row in report["results"]:
        run = runs.get(row.get("run"), {})
        if run.get("code_edited_during_run"):
            state = "unknown (code edited during the run)"
        elif run.get("code") is None:
            state = "unknown (stamped afterwards)"
        else:
            state = "today's" if run["code"] == code else "stale"
        result = Result(**{k: v for k, v in row.items() if k != "run"})
        changes = " + uncommitted changes" if run.get("uncommitted_changes") else ""
        where = f"{run.get('date', '?')[:10]} {run.get('commit') or '?'}{changes}"
        lines.append(
            f"| {measure_text(result)} | {value_text(result)} | {row['target']} "
            f"| {met_text(result)} | {where} | {state} |"
        )
    return "\n".join(lines)


def print_table(results: Sequence[Result]) -> None:
    """This run's rows, aligned for a terminal."""
    names = [measure_text(r) for r in results]
    width = max(map(len, names))
    print(f"{'measure':<{width}}  {'measured':>14}  {'target':>16}  met")
    for name, r in zip(names, results, strict=True):
        print(f"{name:<{width}}  {value_text(r):>14}  {r.target:>16}  {met_text(r)}")

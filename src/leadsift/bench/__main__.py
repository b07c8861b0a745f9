"""`make bench`: quality against the known ceilings, speed and scale, measured on the real stages.

    python -m leadsift.bench [--only pipeline,quality,tuning,throughput,scoring,serving,scale,
                                     segmentation,segmentation_scale,profile]
                             [--scale 1000000,3000000] [--customers 14400,145000]
                             [--leads N] [--shop-customers N] [--tuning-trials 60]
                             [--out reports/bench.json]
    python -m leadsift.bench --table      # bench.json as Markdown, each row with its run
    python -m leadsift.bench --targets    # the targets, as docs/benchmark.md carries them

Every figure is measured in this one run, on this machine, and most are ratios against a
reference measured next to it (the other model family, a pyarrow floor, the stage scripts without
DVC). Each section runs the stage scripts of dvc.yaml, as `dvc repro` starts them, in temporary
copies of the project: `pipeline` builds it from scratch with the default params, and the other
lead sections run their stages in copies of that build. A stage process's start-up (about two
seconds of imports) is subtracted where a rate per row is asked for: the stage's time on one
lead is taken from its time on the batch.

Writes reports/bench.json (each target: measured figure, target, met; a run of some sections
replaces only their rows) and prints a table. All sections take more than an hour on two cores,
so it is not part of `make test`.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from leadsift.bench import SECTIONS, targets
from leadsift.bench.harness import (
    Bench,
    Result,
    code_fingerprint,
    code_state,
    cpu_model,
    log,
    markdown_table,
    merged_report,
    print_table,
    reference_seconds,
    this_run,
)


def parser() -> argparse.ArgumentParser:
    """The command line (this module's docstring is its help)."""
    cli = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    cli.add_argument("--only", default=",".join(SECTIONS), help="comma-separated sections")
    cli.add_argument("--scale", help="lead counts for `scale` (1000000,3000000)")
    cli.add_argument(
        "--leads",
        type=int,
        help="a smoke run: N leads for the built copy and the profile, N and 2N for the scale "
        "sections, N to score, N/20 customers for the shop (rows at other sizes: met null)",
    )
    cli.add_argument(
        "--customers",
        help="shop sizes (customers) for `segmentation_scale` (14400,145000: about 500,000 and "
        "5,000,000 lines)",
    )
    cli.add_argument(
        "--clicks",
        help="log sizes (clicks) for `clicks_scale` (20000000,185000000); `clicks_spark` takes "
        "the smaller",
    )
    cli.add_argument("--tuning-trials", type=int, default=60, help="trials per study in `tuning`")
    cli.add_argument(
        "--shop-customers",
        type=int,
        help="generate_transactions.n_customers for `segmentation` (a smoke run)",
    )
    cli.add_argument("--out", default="reports/bench.json")
    cli.add_argument(
        "--table", action="store_true", help="print --out as Markdown (with staleness) and exit"
    )
    cli.add_argument(
        "--targets", action="store_true", help="print the targets as Markdown and exit"
    )
    return cli


def sizes(text: str | None, smoke: int | None, default: str) -> tuple[int, ...]:
    """The sizes of a scale section: as given, else N and 2N of a smoke run's `smoke`, else
    `default`."""
    chosen = text or (f"{smoke},{2 * smoke}" if smoke else default)
    return tuple(int(n) for n in chosen.split(","))


def bench_of(args: argparse.Namespace, workdir: Path) -> Bench:
    """The run's shared state from its command line."""
    n = args.leads
    return Bench(
        workdir,
        leads=n,
        tuning_trials=args.tuning_trials,
        scale=sizes(args.scale, n, "1000000,3000000"),
        customers=sizes(args.customers, n and n // 20, "14400,145000"),
        shop_customers=args.shop_customers or (max(500, n // 20) if n else None),
        clicks_default=n * 20 if n else None,
        clicks_sizes=sizes(args.clicks, n and n * 20, "20000000,185000000"),
    )


def measure(bench: Bench, sections: Sequence[str]) -> list[Result]:
    """The chosen sections' rows, in the order of `SECTIONS`; the scratch folder goes after."""
    results: list[Result] = []
    try:
        for name, run in SECTIONS.items():
            if name in sections:
                results += run(bench)
    finally:
        shutil.rmtree(bench.workdir, ignore_errors=True)
    return results


def main(argv: Sequence[str] | None = None) -> None:
    """Run the chosen sections and merge their rows into --out; or print a table and exit."""
    cli = parser()
    args = cli.parse_args(argv)
    if args.targets:
        print(targets.markdown())
        return
    if args.table:
        print(markdown_table(json.loads(Path(args.out).read_text()), code_fingerprint()))
        return
    sections = args.only.split(",")
    if unknown := set(sections) - set(SECTIONS):
        cli.error(f"unknown section(s) {sorted(unknown)}; choose from {list(SECTIONS)}")
    reference_s = reference_seconds()
    log(f"this machine: {cpu_model()}, the reference workload in {reference_s:.3f} s")
    started, code = time.perf_counter(), code_state()
    bench = bench_of(args, Path(tempfile.mkdtemp(prefix="leadsift-bench-")))
    results = measure(bench, sections)
    out = Path(args.out)
    run = this_run(sections, round(time.perf_counter() - started), reference_s, code)
    previous = json.loads(out.read_text()) if out.is_file() else None
    report = merged_report(previous, results, run, sections, list(SECTIONS))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print_table(results)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()

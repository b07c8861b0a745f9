"""Section `segmentation_scale`: the customers pipeline from scratch at larger shops (about
500,000 and 5,000,000 transaction lines by default): peak memory and time per line.
"""

from __future__ import annotations

import json
import shutil

from leadsift.bench.harness import Bench, Result, log, project_copy, run_watched, shop_size
from leadsift.bench.scale import size_targets
from leadsift.bench.segmentation import customer_stages


def run(bench: Bench) -> list[Result]:
    """`dvc repro` of the customers stages at each of the run's shop sizes (customers; the line
    counts follow), judged by lines."""
    runs = {}
    for n in bench.customers:
        repo = project_copy(bench.workdir / f"shop_{n}", shop_size(n))
        log(f"segmentation_scale: the customers pipeline for {n:,} customers")
        watched = run_watched(["dvc", "repro", *customer_stages(repo)], repo)
        lines = json.loads((repo / "reports/customers/data.json").read_text())["rows_in"]
        runs[lines] = watched
        log(f"segmentation_scale: {lines:,} lines took {watched.wall_s:.0f} s, peak "
            f"{watched.peak_rss_mb:.0f} MB")  # fmt: skip
        shutil.rmtree(repo, ignore_errors=True)
    return size_targets(
        runs,
        "peak RSS, customers pipeline",
        "time per line, customers pipeline, larger / smaller",
    )

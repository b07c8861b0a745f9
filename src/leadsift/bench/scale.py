"""Section `scale`: the lead pipeline (`dvc repro leads_train`: generate to train) from scratch at
larger sizes: the largest process's peak memory, and whether time grows linearly.

It needs about 2.3 GB per million leads, so the stated 10,000,000 leads do not fit in 23 GB; at
other sizes the rows are measured but not judged.
"""

from __future__ import annotations

import shutil

from leadsift.bench.harness import Bench, Result, Watched, check, log, project_copy, run_watched


def size_targets(runs: dict[int, Watched], peak: str, per_unit: str) -> list[Result]:
    """The two scale rows over runs keyed by size: the target `peak` (peak RSS at the largest
    run) and, with two sizes or more, `per_unit` (the largest run's time per unit over the
    smallest's); each judged only at the sizes its target is stated at."""
    largest, smallest = max(runs), min(runs)
    results = [check(peak, runs[largest].peak_rss_mb, at=(largest,), stages=runs[largest].stages)]
    if largest != smallest:
        per = {n: runs[n].wall_s / n for n in runs}
        results.append(
            check(
                per_unit,
                per[largest] / per[smallest],
                at=(largest, smallest),
                us_per_unit={f"{n:,}": round(per[n] * 1e6, 2) for n in runs},
                wall_s={f"{n:,}": round(runs[n].wall_s) for n in runs},
                peak_rss_mb={f"{n:,}": round(runs[n].peak_rss_mb) for n in runs},
                stages={f"{n:,}": runs[n].stages for n in runs},
            )
        )
    return results


def run(bench: Bench) -> list[Result]:
    """`dvc repro leads_train` from scratch at each of the run's `scale` sizes."""
    runs = {}
    for n in bench.scale:
        log(f"scale: leads_generate to leads_train at {n:,} leads")
        repo = project_copy(bench.workdir / f"scale_{n}", {"generate.n_leads": n})
        runs[n] = run_watched(["dvc", "repro", "leads_train"], repo)
        log(f"scale: {n:,} leads took {runs[n].wall_s:.0f} s, peak {runs[n].peak_rss_mb:.0f} MB")
        shutil.rmtree(repo, ignore_errors=True)
    return size_targets(
        runs,
        "peak RSS, leads_generate to leads_train",
        "time per lead, leads_generate to leads_train, larger / smaller",
    )

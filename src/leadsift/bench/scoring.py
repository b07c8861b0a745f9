"""Section `scoring`: the real `leads_score` stage on a 1,000,000-lead batch.

A stage process spends about two seconds before it reads a row (Python, pandas, LightGBM, the
model), which is no part of scoring a batch; so the stage also scores a batch of one lead, and the
rate is n / (time on the batch - time on one lead). The batch is written by the real
`leads_generate_incoming` stage, one month of later leads, as the pipeline's own batches are.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq

from leadsift.bench.harness import (
    Bench,
    Result,
    Watched,
    check,
    log,
    run_stage,
    stage_copy,
    startup_subtracted,
)
from leadsift.core.config import read_params, write_overrides


def lead_batch(bench: Bench, n: int) -> Path:
    """A folder holding one batch of `n` unlabelled leads, written once per run by the
    `leads_generate_incoming` stage (one month after the training period, with its drift)."""
    folder = bench.workdir / f"batch_{n}"
    if not folder.is_dir():
        log(f"generating a batch of {n:,} leads (leads_generate_incoming)")
        settings = {"incoming.n_batches": 1, "incoming.leads_per_batch": n}
        repo = stage_copy(bench.workdir / f"incoming_{n}", overrides=bench.overrides | settings)
        run_stage(repo, "leads_generate_incoming")
        shutil.move(repo / "data/incoming/batches", folder)
        shutil.rmtree(repo, ignore_errors=True)
    return folder


def first_kept_leads(built: Path) -> pd.DataFrame:
    """The raw text of the first lead of each class that the built copy's `leads_prepare` kept:
    leads every lead stage takes (a batch the contract empties fails, and `leads_prepare` wants
    both classes)."""
    roles = read_params(built)["leads"]
    raw = pd.read_csv(built / roles["raw_path"], dtype=str, keep_default_na=False)
    kept = pd.read_parquet(
        built / "data/interim/leads.parquet", columns=[roles["id"], roles["target"]]
    )
    first = kept.drop_duplicates(roles["target"])[roles["id"]].astype(str)
    return raw[raw[roles["id"]].isin(first)]


def one_lead_batch(bench: Bench) -> Path:
    """A folder holding a batch of one clean lead, without its target."""
    folder = bench.workdir / "batch_one"
    if not folder.is_dir():
        built = bench.built_copy()
        lead = first_kept_leads(built).head(1).drop(columns=read_params(built)["leads"]["target"])
        folder.mkdir()
        lead.to_csv(folder / "one.csv", index=False)
    return folder


def _score(repo: Path, batches: Path, reasons: bool) -> Watched:
    """The `leads_score` stage of `repo` on the folder `batches`, with or without reasons."""
    write_overrides(repo, {"leads_score.input": str(batches), "leads_score.reasons": reasons})
    return run_stage(repo, "leads_score")


def stage_rate(bench: Bench, repo: Path, *, reasons: bool) -> dict[str, Any]:
    """The `leads_score` stage of `repo` (a copy holding its `models/sales`) on the run's batch,
    then on one lead: rows/s with the start-up subtracted, both times, what it kept and whether
    it wrote reasons."""
    n = bench.batch_leads
    batch = _score(repo, lead_batch(bench, n), reasons)
    counts = json.loads((repo / "reports/scoring.json").read_text())["batches"]
    (scored,) = (repo / "data/scored/leads").glob("*.parquet")
    reasons = "raises_1" in pq.read_schema(scored).names
    one = _score(repo, one_lead_batch(bench), reasons)
    return {
        "rows_per_s": startup_subtracted(n, batch.wall_s, one.wall_s),
        "rows": n,
        "batch_s": round(batch.wall_s, 2),
        "one_lead_s": round(one.wall_s, 2),
        "with_reasons": reasons,
        "rows_clean": next(iter(counts.values()))["rows_clean"],
        "peak_rss_mb": round(batch.peak_rss_mb),
    }


def run(bench: Bench) -> list[Result]:
    """The built sales model (`models/sales`) scored by the stage, in a copy of its own."""
    repo = stage_copy(bench.workdir / "scoring", bench.built_copy(), ("models/sales",))
    results = []
    for reasons, name in ((True, "leads_score stage rows/s"),
                          (False, "leads_score stage rows/s without reasons")):  # fmt: skip
        log(f"scoring: {name}, on {bench.batch_leads:,} leads, then on one")
        speed = stage_rate(bench, repo, reasons=reasons)
        rate = speed.pop("rows_per_s")
        results.append(check(name, rate, at=(bench.batch_leads,), **speed))
    return results

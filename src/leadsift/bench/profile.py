"""Section `profile`: the real `leads_data_profile` stage (read, profile, figures, write) on the
generated lead export, and on a wide table: the same leads widened to 85 columns.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from leadsift.bench.harness import Bench, Result, check, log, run_stage, stage_copy
from leadsift.core.config import read_params, write_overrides

WIDE_ROWS, WIDE_COLUMNS = 6000, 85  # the wide table's shape, as its target states it


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


def run(bench: Bench) -> list[Result]:
    """`leads_generate` at the run's size (240,000 leads by default), the profile stage on its
    export, then on the widened table with its extra columns declared in config.yaml."""
    n_leads = bench.leads or 240_000
    repo = stage_copy(bench.workdir / "profile", overrides={"generate.n_leads": n_leads})
    log(f"profile: generating {n_leads:,} leads")
    run_stage(repo, "leads_generate")
    leads = run_stage(repo, "leads_data_profile")
    log(f"profile: {n_leads:,} leads in {leads.wall_s:.1f} s")
    roles = read_params(repo)["leads"]
    counts = [c for group in roles["interaction_groups"].values() for c in group]
    raw = pd.read_csv(repo / roles["raw_path"], dtype=str)
    wide = widened(raw, WIDE_ROWS, WIDE_COLUMNS, category=roles["categorical"][0], counts=counts)
    wide.to_csv(repo / "data/raw/wide.csv", index=False)
    write_overrides(
        repo,
        {
            "leads.raw_path": "data/raw/wide.csv",
            "leads.categorical": [*roles["categorical"], *wide.filter(like="extra_category")],
            "leads.numeric": [*roles["numeric"], *wide.filter(like="extra_count")],
        },
    )
    table = run_stage(repo, "leads_data_profile")
    log(f"profile: a {wide.shape[0]:,} x {wide.shape[1]} table in {table.wall_s:.1f} s")
    return [
        check(
            "leads_data_profile stage, the lead export",
            leads.wall_s,
            at=(n_leads,),
            peak_rss_mb=round(leads.peak_rss_mb),
        ),
        check(
            "leads_data_profile stage, an 85-column table",
            table.wall_s,
            at=(len(wide),),
            columns=wide.shape[1],
            peak_rss_mb=round(table.peak_rss_mb),
        ),
    ]

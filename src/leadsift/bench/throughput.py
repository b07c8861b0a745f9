"""Section `throughput`: the real `leads_prepare` and `leads_featurize` stages against the floor
of reading the same raw CSV and writing it as parquet with pyarrow alone.

The two stage processes run on the built copy's raw lead file and, for their start-up, on a file
of two clean leads of it (`leads_prepare` wants both classes); their rate is the rows over the
difference, as in `scoring`.
"""

from __future__ import annotations

import time
from pathlib import Path

from leadsift.bench.harness import (
    Bench,
    Result,
    check,
    log,
    run_stage,
    stage_copy,
    startup_subtracted,
)
from leadsift.bench.scoring import first_kept_leads
from leadsift.core.config import read_params

STAGES = ("leads_prepare", "leads_featurize")


def pyarrow_floor(raw: Path, out: Path) -> tuple[float, int]:
    """Seconds pyarrow takes to read the CSV `raw` and write it to `out` as parquet, in this
    process (its imports done), and the rows read."""
    import pyarrow.csv as pv  # noqa: PLC0415
    import pyarrow.parquet as pq  # noqa: PLC0415

    start = time.perf_counter()
    table = pv.read_csv(raw)
    pq.write_table(table, out)
    return time.perf_counter() - start, table.num_rows


def _stages_s(repo: Path) -> float:
    """Both stage processes, one after the other, as `dvc repro` runs them."""
    return sum(run_stage(repo, stage).wall_s for stage in STAGES)


def run(bench: Bench) -> list[Result]:
    """The floor, the stages on the whole file, then the stages on two leads."""
    built = bench.built_copy()
    raw_path = read_params(built)["leads"]["raw_path"]
    log("throughput: pyarrow floor, then leads_prepare + leads_featurize")
    floor_s, rows = pyarrow_floor(built / raw_path, bench.workdir / "floor.parquet")
    whole_s = _stages_s(stage_copy(bench.workdir / "throughput", built, (raw_path,)))
    two = stage_copy(bench.workdir / "throughput_two", built)
    (two / raw_path).parent.mkdir(parents=True, exist_ok=True)
    first_kept_leads(built).to_csv(two / raw_path, index=False)
    two_s = _stages_s(two)
    rate = startup_subtracted(rows, whole_s, two_s)
    return [
        check(
            "leads_prepare+leads_featurize rows/s / pyarrow floor",
            rate / (rows / floor_s) if rate else None,
            rows=rows,
            stages_rows_per_s=round(rate) if rate else None,
            pyarrow_rows_per_s=round(rows / floor_s),
            stages_s=round(whole_s, 2),
            two_leads_stages_s=round(two_s, 2),
        )
    ]

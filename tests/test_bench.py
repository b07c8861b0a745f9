"""The benchmark's plumbing (the measurements themselves run in `make bench`, not here)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import yaml

from leadsift import bench
from leadsift.leads.cleaning import clean_leads
from tests.conftest import ROOT


def test_stage_commands_are_dvc_yaml_commands_with_params_resolved():
    commands = dict(bench.stage_commands(ROOT))
    assert list(commands) == list(yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"])
    for argv in commands.values():
        assert (ROOT / argv[0]).is_file() and not any("${" in word for word in argv)
    assert commands["prepare"][1] == "data/raw/leads.csv"  # ${data.raw_path}
    assert commands["generate_incoming"][1] == "--incoming"


def test_a_target_is_met_only_on_the_right_side_of_its_bound():
    assert bench._check("x", 0.99, ">=", 0.98).met is True
    assert bench._check("x", 0.97, ">=", 0.98).met is False
    assert bench._check("x", 25.0, "<=", 20, "ms").met is False
    assert bench._check("x", 1.2, "<=", 1.25).target == "<= 1.25"


def test_seen_before_finds_hashes_of_earlier_batches_and_keeps_them_sorted():
    found, seen = bench._seen_before(np.array([5, 3, 9], np.uint64), np.array([], np.uint64))
    assert not found.any()
    found, seen = bench._seen_before(np.array([4, 9, 1, 3], np.uint64), seen)
    assert found.tolist() == [False, True, False, True]
    assert (np.diff(seen.astype(np.int64)) >= 0).all() and set(seen) == {1, 3, 4, 5, 9}


def test_streaming_prepare_accounts_for_every_row_across_batches(leads, roles, cleaning, tmp_path):
    """Rows repeated in a later record batch are caught by their hash, not just within a batch."""
    raw = tmp_path / "leads.csv"
    export = leads[0]
    pd.concat([export, export.head(40)]).to_csv(raw, index=False)
    out = tmp_path / "features.parquet"
    bench.stream_prepare(str(raw), str(out), 256 << 10)  # 256 kB blocks: several batches
    counts = json.loads(out.with_suffix(".json").read_text())
    features = pq.ParquetFile(out)
    assert features.num_row_groups > 2
    assert counts["rows_in"] == len(export) + 40
    repeated = clean_leads(export.head(40), roles, source="head", **cleaning).counts["rows_clean"]
    assert counts["rows_cross_batch_duplicate"] == repeated > 30
    assert features.metadata.num_rows == (
        counts["rows_clean"] - counts["rows_cross_batch_duplicate"]
    )
    assert counts["rows_in"] == sum(
        counts[k] for k in ("rows_clean", "rows_duplicate", "rows_quarantined")
    )


def test_the_command_line_names_an_unknown_section(capsys):
    with pytest.raises(SystemExit):
        bench.main(["--only", "quality,speed"])
    assert "unknown section(s) ['speed']" in capsys.readouterr().err


def test_the_wide_profile_table_has_the_stated_shape_and_is_seeded(leads):
    raw = leads[0].astype(str)
    wide = bench.widened(raw, 300, 85)
    assert wide.shape == (300, 85)
    assert wide.equals(bench.widened(raw, 300, 85))
    extra = wide.filter(like="extra_count")
    assert len(extra.columns) > 0 and (extra >= 0).all().all()

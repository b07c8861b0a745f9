"""The benchmark's plumbing (the measurements themselves run in `make bench`, not here)."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import asdict

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import yaml

from leadsift import bench
from leadsift.leads.cleaning import clean_leads
from tests.conftest import ROOT


def test_a_watched_process_is_named_by_the_stage_it_runs():
    """Both pipelines have a generate.py, a prepare.py, ...: each must be timed as its own stage."""
    for name, argv in bench.stage_commands(ROOT):
        assert bench.stage_of(["python", "-m", "leadsift.core.launch", *argv]) == name
    assert bench.stage_of(["dvc", "repro"]) is None


def test_stage_commands_are_dvc_yaml_commands_with_params_resolved():
    commands = dict(bench.stage_commands(ROOT))
    assert list(commands) == list(yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"])
    for argv in commands.values():
        assert (ROOT / argv[0]).is_file() and not any("${" in word for word in argv)
    assert commands["prepare"][1] == "data/raw/leads.csv"  # ${data.raw_path}
    assert commands["generate_incoming"][1] == "--incoming"
    assert bench.stage_python(ROOT) == [
        "env",
        "PYTHONPATH=src",
        "python",
        "-m",
        "leadsift.core.launch",
    ]


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


def test_the_wide_profile_table_has_the_stated_shape_and_is_seeded(leads, roles):
    raw = leads[0].astype(str)
    wide = bench.widened(raw, 300, 85, category=roles.categorical[0], counts=roles.interactions)
    assert wide.shape == (300, 85)
    assert wide.equals(
        bench.widened(raw, 300, 85, category=roles.categorical[0], counts=roles.interactions)
    )
    extra = wide.filter(like="extra_count")
    assert len(extra.columns) > 0 and (extra >= 0).all().all()
    few = bench.widened(
        raw.head(40), 300, 85, category=roles.categorical[0], counts=roles.interactions
    )
    assert few.shape == (40, 85)  # a smoke run's table: every lead there is


def watched(wall_s: float, peak_mb: float = 100.0) -> bench.Watched:
    return bench.Watched(wall_s, peak_mb, {})


def test_scale_targets_are_judged_only_at_their_stated_sizes():
    at_size = bench.size_targets({1_000_000: watched(100), 10_000_000: watched(900)}, "lead",
                                 10_000_000, 1_000_000)  # fmt: skip
    assert [r.met for r in at_size] == [True, True]
    elsewhere = bench.size_targets({1_000_000: watched(100), 3_000_000: watched(250, 5000)},
                                   "lead", 10_000_000, 1_000_000)  # fmt: skip
    assert [r.met for r in elsewhere] == [None, None]  # 6.9 GB at 3M says nothing about 10M
    assert elsewhere[0].details["stated_at"] == "10,000,000 leads"
    slow = bench.size_targets({510_000: watched(100), 4_900_000: watched(1500)}, "line",
                              5_000_000, 500_000)  # fmt: skip
    assert slow[1].met is False and slow[1].measured == pytest.approx(1500 / 4.9e6 / (100 / 5.1e5))


def test_a_prototype_row_is_named_so_and_never_met():
    row = bench.as_prototype(bench._check("streaming: peak RSS at 10 leads", 1.0, "<=", 2))
    assert row.name == "prototype (streaming): peak RSS at 10 leads"
    assert row.met is None and row.details["would_meet"] is True


def test_the_table_shows_each_rows_run_and_whether_its_code_is_todays():
    report = {
        "runs": [
            {"id": "a", "commit": "abc1234", "date": "2026-11-20T10:00:00Z", "code": "old"},
            {"id": "b", "commit": "def5678", "date": "2026-11-23T10:00:00Z", "code": "now"},
        ],
        "results": [
            {**asdict(bench._check("first", 1.0, "<=", 2)), "run": "a"},
            {**asdict(bench._check("second", 3.0, "<=", 2)), "run": "b"},
        ],
    }
    lines = bench.markdown_table(report, code="now").splitlines()
    assert lines[2] == "| first | 1 | <= 2 | yes | 2026-11-20 abc1234 | stale |"
    assert lines[3] == "| second | 3 | <= 2 | NO | 2026-11-23 def5678 | today's |"


def test_a_run_records_its_cpu_and_speed_so_runs_on_other_machines_compare():
    reference = bench.reference_seconds(repeats=1)
    assert 0 < reference < 60
    machine = bench.this_run(["quality"], 1, reference)["machine"]
    assert machine["reference_s"] == reference and machine["cpu"]


def test_the_code_fingerprint_follows_the_code(tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src/a.py").write_text("x = 1\n")
    (tmp_path / "README.md").write_text("docs\n")
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    before = bench.code_fingerprint(tmp_path)
    (tmp_path / "README.md").write_text("other docs\n")
    assert bench.code_fingerprint(tmp_path) == before  # not code
    (tmp_path / "src/a.py").write_text("x = 2\n")
    assert bench.code_fingerprint(tmp_path) != before


def test_a_watched_run_sees_a_peak_too_short_for_sampling(tmp_path):
    """300 MB held for a few milliseconds: the kernel's high-water mark still records it."""
    spike = "b = bytearray(300 * 2**20); b[::4096] = b'x' * len(b[::4096])"
    result = bench.run_watched([sys.executable, "-c", spike], tmp_path, interval=5.0)
    assert result.peak_rss_mb >= 300


def test_a_partial_run_replaces_the_rows_of_the_sections_it_ran():
    old = {"id": "old"}
    previous = {
        "runs": [old],
        "results": [
            {"name": "renamed since", "section": "quality", "run": "old"},
            {"name": "kept", "section": "profile", "run": "old"},
        ],
    }
    new = bench.Result("a quality row", 1.0, ">= 0", True, section="quality")
    report = bench.merged_report(previous, [new], {"id": "new"}, ["quality"])
    assert [r["name"] for r in report["results"]] == ["kept", "a quality row"]
    assert report["runs"] == [old, {"id": "new"}] and report["results"][1]["run"] == "new"
    full = bench.merged_report(previous, [new], {"id": "new"}, list(bench.SECTIONS))
    assert [r["name"] for r in full["results"]] == ["a quality row"]


def test_the_forecast_rows_judge_the_chosen_model_and_say_what_the_history_allows(tmp_path):
    """MASE 0.6 against a truth of 0.3 misses the 1.1 target; the expectation that learns of the
    campaign only once it begins (0.75) is 2.5 times the truth: the floor for a model of the
    history."""
    (tmp_path / "params.yaml").write_text(yaml.safe_dump({"forecast": {"horizon": 3}}))
    (tmp_path / "config.yaml").write_text(
        yaml.safe_dump({"forecast": {"level": 0.8, "origins": 4}})
    )
    summary = {
        "model": "ets",
        "models": {"ets": {"mase": 0.6, "coverage": 0.75}, "naive": {"mase": 4.0, "coverage": 0.5}},
        "truth": {"mase": 0.3, "from_history": {"mase": 0.75}},
    }
    reports = tmp_path / "reports/customers"
    reports.mkdir(parents=True)
    (reports / "forecast.json").write_text(json.dumps({"series": {"total": summary}}))
    # the shop without the campaign: 0.32 against a truth of 0.3 meets it
    plain = tmp_path / "plain"
    (plain / "reports/customers").mkdir(parents=True)
    fair = {
        "model": "customer_base",
        "models": {"customer_base": {"mase": 0.32}},
        "truth": {"mase": 0.3, "next_total": 100.0},
        "next": {"total": 101.0},
    }
    (plain / "reports/customers/forecast.json").write_text(json.dumps({"series": {"total": fair}}))
    watched = bench.Watched(1.0, 1.0, {"customers_forecast": {"wall_s": 12.0}})
    truth, fair_truth, naive, coverage, stage = bench.forecast_results(tmp_path, watched, plain)
    assert (fair_truth.measured, fair_truth.met) == (pytest.approx(0.32 / 0.3), True)
    assert fair_truth.details["model"] == "customer_base"
    assert (truth.measured, truth.met) == (pytest.approx(2.0), False)
    assert truth.details["history_floor"] == 2.5
    assert truth.details["ratio_to_truth_from_history"] == 0.8
    assert (naive.measured, naive.met) == (pytest.approx(0.15), True)
    assert coverage.measured == pytest.approx(5.0) and coverage.met
    assert (stage.measured, stage.met) == (12.0, True)

"""The benchmark's plumbing (the measurements themselves run in `make bench`, not here)."""

from __future__ import annotations

import yaml

from leadsift import bench
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

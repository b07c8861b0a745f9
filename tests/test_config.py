"""params.yaml is checked before any work, every problem named by its key."""

from __future__ import annotations

import copy

import pytest
import yaml

from leadsift import config, models, tuning
from leadsift.io import InputError
from tests.conftest import ROOT

PARAMS = yaml.safe_load((ROOT / "params.yaml").read_text())


def problems_with(**changes) -> list[str]:
    params = copy.deepcopy(PARAMS)
    for key, value in changes.items():
        *path, last = key.split("__")
        node = params
        for part in path:
            node = node[part]
        if value is KeyError:
            del node[last]
        else:
            node[last] = value
    return config.params_problems(params)


def test_the_shipped_params_pass():
    assert config.params_problems(PARAMS) == []


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"model__family": "xgboost"}, "`model.family` must be one of"),
        ({"train__coverage": 0}, "`train.coverage` must be a number in (0, 1], got 0"),
        ({"train__coverage": 1.5}, "`train.coverage`"),
        ({"split__fractions": {"train": 0.7, "validation": 0.2, "test": 0.2}}, "`split.fractions`"),
        ({"split__fractions": {"train": 0.7, "test": 0.3}}, "`split.fractions`"),
        ({"split__method": "random"}, "`split.method` must be one of ['time', 'stratified']"),
        ({"tune__n_trials": 0}, "`tune.n_trials` must be an integer >= 1, got 0"),
        ({"tune__n_trials": 2.5}, "`tune.n_trials`"),
        ({"tune__metric": "accuracy"}, "`tune.metric`"),
        ({"tune__pruner": "hyperband"}, "`tune.pruner`"),
        ({"tune__max_rows": -5}, "`tune.max_rows` must be null or an integer >= 1"),
        ({"generate__start": "last year"}, "`generate.start`"),
        ({"generate__dirt__placeholders": 2}, "`generate.dirt.placeholders`"),
        ({"business__min_genuine_recall": True}, "`business.min_genuine_recall`"),
        ({"register__n_bootstrap": KeyError}, "`register.n_bootstrap` is missing"),
    ],
)
def test_each_bad_value_is_named_by_its_key(changes, message):
    problems = problems_with(**changes)
    assert len(problems) == 1 and message in problems[0], problems


def test_every_problem_is_reported_at_once_before_any_work(tmp_path):
    params = copy.deepcopy(PARAMS)
    params["model"]["family"] = "xgboost"
    params["tune"]["n_trials"] = 0
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    with pytest.raises(InputError, match=r"2 problem\(s\)") as err:
        config.load_params(path)
    assert "`model.family`" in str(err.value) and "`tune.n_trials`" in str(err.value)
    assert config.load_params(ROOT / "params.yaml") == PARAMS


def test_the_allowed_names_match_what_the_library_implements():
    assert set(config.FAMILIES) == set(models.FAMILIES)
    assert set(config.TUNE_METRICS) == set(tuning.METRICS)
    assert set(config.PRUNERS) == set(tuning.PRUNERS)

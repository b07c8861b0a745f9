"""params.yaml and config.yaml are read as DVC reads them and checked before any work, every
problem named by its key."""

from __future__ import annotations

import copy
import shutil

import pytest
import yaml

from leadsift import preflight
from leadsift.core import config
from leadsift.core import tuning as study
from leadsift.core.io import InputError
from leadsift.leads import models, param_rules, tuning
from tests.conftest import ROOT

PARAMS = config.read_params(ROOT)
RULES = param_rules.RULES


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
    return config.params_problems(params, RULES)


def test_the_shipped_params_pass():
    assert config.params_problems(PARAMS, RULES) == []


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
        ({"generate_setup__start": "last year"}, "`generate_setup.start`"),
        ({"generate_setup__dirt__placeholders": 2}, "`generate_setup.dirt.placeholders`"),
        ({"business__min_genuine_recall": True}, "`business.min_genuine_recall`"),
        ({"leads_register__n_bootstrap": KeyError}, "`leads_register.n_bootstrap` is missing"),
    ],
)
def test_each_bad_value_is_named_by_its_key(changes, message):
    problems = problems_with(**changes)
    assert len(problems) == 1 and message in problems[0], problems


def copy_params(tmp_path):
    for name in config.PARAMS_FILES:
        shutil.copy(ROOT / name, tmp_path / name)
    return tmp_path


def test_every_problem_is_reported_at_once_before_any_work(tmp_path):
    config.write_overrides(copy_params(tmp_path), {"model.family": "xgboost", "tune_setup.step": 0})
    with pytest.raises(InputError, match=r"2 problem\(s\)") as err:
        config.load_params(RULES, tmp_path)
    assert "`model.family`" in str(err.value) and "`tune_setup.step`" in str(err.value)
    assert config.load_params(RULES, ROOT) == PARAMS


def test_overrides_land_in_the_file_that_holds_the_key(tmp_path):
    config.write_overrides(
        copy_params(tmp_path),
        {"tune.n_trials": 3, "tune_setup.spaces.logistic_regression.C.high": 5.0, "leads.id": None},
    )
    knobs, setup = (yaml.safe_load((tmp_path / name).read_text()) for name in config.PARAMS_FILES)
    assert knobs["tune"]["n_trials"] == 3 and "spaces" not in knobs["tune"]
    assert setup["tune_setup"]["spaces"]["logistic_regression"]["C"]["high"] == 5.0
    assert setup["leads"]["id"] is None and "tune" not in setup


def test_a_key_set_in_both_files_is_refused(tmp_path):
    copy_params(tmp_path)
    with (tmp_path / "config.yaml").open("a") as setup:
        setup.write("split:\n  seed: 9\n")
    with pytest.raises(InputError, match=r"`split\.seed` is set in both params\.yaml"):
        config.load_params(RULES, tmp_path)


@pytest.mark.parametrize(
    ("written", "read"),
    [("Yes", "Yes"), ("no", "no"), ("on", "on"), ("'1'", "1"), ("1", 1), ("true", True)],
)
def test_values_are_read_with_yaml_1_2_as_dvc_reads_them(tmp_path, written, read):
    """PyYAML (YAML 1.1) turns an unquoted Yes into True; DVC and leadsift keep the string."""
    copy_params(tmp_path)
    text = (tmp_path / "config.yaml").read_text()
    text = text.replace("  positive_label: 1 ", f"  positive_label: {written} ", 1)
    (tmp_path / "config.yaml").write_text(text)
    assert config.load_params(RULES, tmp_path)["leads"]["positive_label"] == read


def test_the_allowed_names_match_what_the_library_implements():
    assert set(param_rules.FAMILIES) == set(models.FAMILIES)
    assert set(param_rules.TUNE_METRICS) == set(tuning.METRICS)
    assert set(param_rules.PRUNERS) == set(study.PRUNERS)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"tune__n_trails": 3},
            "`tune.n_trails` is not a key leadsift reads; did you mean `tune.n_trials`?",
        ),
        ({"leads_register__min_roc": 0.8}, "did you mean `leads_register.min_roc_auc`?"),
        ({"model_setup__lightgmb": {"n_jobs": 2}}, "did you mean `model_setup.lightgbm`?"),
    ],
)
def test_a_misspelled_key_is_named_with_the_closest_known_one(changes, message):
    problems = problems_with(**changes)
    assert problems == [problems[0]] and message in problems[0], problems


def test_keys_the_user_names_and_other_pipelines_sections_are_not_unknown():
    """Group, alias, family-setting and space names are the user's; `transactions` belongs to the
    customers pipeline, whose stages check it."""
    assert problems_with(leads__interaction_groups__mine={"x": 1}) != []  # a group must be a list
    assert problems_with(leads__interaction_groups={"mine": ["a"]}) == []
    assert problems_with(tune_setup__spaces__lightgbm__extra={"low": 1, "high": 2}) == []
    assert problems_with(transactions__anything=1) == []


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"leads__numeric": "t"}, "`leads.numeric` must be a list of non-empty strings, got 't'"),
        ({"leads__interaction_groups": ["a"]}, "`leads.interaction_groups` must be a mapping"),
        ({"leads__id": 5}, "`leads.id` must be null or a non-empty string, got 5"),
    ],
)
def test_a_role_of_the_wrong_type_is_named_with_the_type_expected(changes, message):
    problems = problems_with(**changes)
    assert len(problems) == 1 and message in problems[0], problems


def test_preflight_names_a_missing_input_by_its_key_and_leaves_outputs_alone(tmp_path):
    """DVC alone stops with `[Errno 2]` after deleting the stage's outputs; `make repro` checks
    first. Inputs a stage writes (the embedded data) need not exist yet."""
    copy_params(tmp_path)
    shutil.copy(ROOT / "dvc.yaml", tmp_path / "dvc.yaml")
    assert preflight.problems(tmp_path) == []
    config.write_overrides(tmp_path, {"transactions.raw_path": "data/own/sales.csv"})
    (found,) = preflight.problems(tmp_path)
    assert found.startswith("`transactions.raw_path` names data/own/sales.csv, which does not")
    (tmp_path / "data/own").mkdir(parents=True)
    (tmp_path / "data/own/sales.csv").write_text("x\n")
    assert preflight.problems(tmp_path) == []

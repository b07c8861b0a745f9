import filecmp
import shutil

import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn.metrics import roc_auc_score

from leadsift.core.model_store import (
    PACKAGE_DIR,
    UntrustedModelError,
    load_model,
    model_code,
    save_model,
)
from leadsift.leads.models import FAMILIES, TRUSTED_TYPES
from leadsift.leads.schema import raw_records

HYPERPARAMS = {
    "hist_gradient_boosting": {"max_iter": 60},
    "lightgbm": {"n_estimators": 60, "deterministic": True, "force_col_wise": True, "verbose": -1},
    "logistic_regression": {"max_iter": 2000},
    "random_forest": {"n_estimators": 30, "min_samples_leaf": 5},
}


@pytest.fixture(scope="module")
def halves(prepared):
    return prepared.iloc[:3500], prepared.iloc[3500:]


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_each_family_learns_from_raw_records(family, halves, roles, fit_model):
    model = fit_model(halves[0], family=family, hyperparams=HYPERPARAMS[family])
    _, test = halves
    score = model.predict_proba(raw_records(test, roles))[:, 1]
    assert roc_auc_score(test[roles.target], score) > 0.75


def test_the_model_scores_dirty_records_and_unseen_levels(halves, roles, fit_model):
    model = fit_model(halves[0], hyperparams=HYPERPARAMS["hist_gradient_boosting"])
    records = raw_records(halves[1].head(4), roles)
    records["city"] = ["  MUMBAI ", "Atlantis", None, "Select"]
    records["utm_source"] = ["brand_new_source", "google", "", "GOOGLE"]
    records.loc[0, "chat_clicks"] = np.nan
    score = model.predict_proba(records)[:, 1]
    assert np.isfinite(score).all() and ((score > 0) & (score < 1)).all()
    # Case and padding are normalised away: the same lead scores the same.
    same = records.iloc[[1, 1]].copy()
    same["utm_source"] = ["google", " Google "]
    first, second = model.predict_proba(same)[:, 1]
    assert first == second


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_every_family_saves_loads_identically_and_reproducibly(
    family, halves, roles, fit_model, tmp_path
):
    model = fit_model(halves[0], family=family, hyperparams=HYPERPARAMS[family])
    records = raw_records(halves[1], roles)
    save_model(model, tmp_path / "a", records.head(5), TRUSTED_TYPES)
    save_model(
        fit_model(halves[0], family=family, hyperparams=HYPERPARAMS[family]),
        tmp_path / "b",
        records.head(5),
        TRUSTED_TYPES,
    )
    comparison = filecmp.dircmp(tmp_path / "a", tmp_path / "b")
    assert (
        comparison.diff_files == [] and comparison.left_only == [] and comparison.right_only == []
    )
    assert filecmp.cmp(
        tmp_path / "a" / "model.skops", tmp_path / "b" / "model.skops", shallow=False
    )
    loaded = load_model(tmp_path / "a", TRUSTED_TYPES)
    np.testing.assert_array_equal(loaded.predict_proba(records), model.predict_proba(records))
    # The model's environment pins what its code copy imports (lightgbm for every family: the
    # models module imports it) and skops to read the archive.
    pins = {p.partition("==")[0] for p in (tmp_path / "a" / "requirements.txt").read_text().split()}
    needed = {"lightgbm", "mlflow", "numpy", "pandas", "scikit-learn", "skops"}
    assert needed <= pins and not pins & {"os", "json", "leadsift", "sklearn"}


def test_load_model_refuses_a_directory_not_serialised_with_skops(
    halves, roles, fit_model, tmp_path
):
    model = fit_model(halves[0], hyperparams=HYPERPARAMS["hist_gradient_boosting"])
    save_model(model, tmp_path / "m", raw_records(halves[1].head(5), roles), TRUSTED_TYPES)
    mlmodel = tmp_path / "m" / "MLmodel"
    mlmodel.write_text(
        mlmodel.read_text().replace(
            "serialization_format: skops", "serialization_format: cloudpickle"
        )
    )
    with pytest.raises(UntrustedModelError, match="declares serialisation 'cloudpickle'"):
        load_model(tmp_path / "m", TRUSTED_TYPES)


def test_a_saved_model_returns_probabilities_for_raw_csv_like_records(
    halves, roles, fit_model, tmp_path
):
    model = fit_model(halves[0], hyperparams=HYPERPARAMS["hist_gradient_boosting"])
    records = raw_records(halves[1].head(20), roles)
    save_model(model, tmp_path / "m", records.head(5), TRUSTED_TYPES)
    out = load_model(tmp_path / "m", TRUSTED_TYPES).predict_proba(records)
    np.testing.assert_allclose(out, model.predict_proba(records))


def test_raw_records_look_like_a_csv_export(halves, roles):
    records = raw_records(halves[1].head(3), roles)
    assert list(records.columns) == roles.model_inputs
    assert isinstance(records[roles.timestamp].iloc[0], str)
    assert all(records[c].dtype == np.float64 for c in roles.numeric_inputs)
    assert pd.api.types.is_object_dtype(records["city"])


def test_a_saved_model_carries_only_the_code_it_runs(saved_model):
    """The model's code copy is its steps' modules and what they import, nothing else, so editing
    an unrelated module leaves a rebuilt model's bytes unchanged."""
    _, path = saved_model
    copied = {p.relative_to(path / "code").as_posix() for p in (path / "code").rglob("*.py")}
    needed = {
        f"leadsift/{p.relative_to(PACKAGE_DIR).as_posix()}" for p in model_code(TRUSTED_TYPES)
    }
    assert copied == needed
    assert {"leadsift/leads/cleaning.py", "leadsift/leads/features.py"} <= copied
    assert "leadsift/core/profile.py" not in copied
    assert not any(name.startswith(("leadsift/bench/", "leadsift/customers/")) for name in copied)


def test_loading_trusts_the_callers_types_not_the_list_inside_mlmodel(saved_model, tmp_path):
    """A crafted model cannot widen what loads: the MLmodel file's list is ignored, and a type
    the caller does not trust is refused."""
    _, path = saved_model
    crafted = tmp_path / "model"
    shutil.copytree(path, crafted)
    mlmodel = crafted / "MLmodel"
    meta = yaml.safe_load(mlmodel.read_text())
    meta["flavors"]["sklearn"]["skops_trusted_types"].append("builtins.eval")
    mlmodel.write_text(yaml.safe_dump(meta))
    load_model(crafted, TRUSTED_TYPES)  # the caller's list: it loads
    narrower = [t for t in TRUSTED_TYPES if t != "leadsift.leads.features.LeadFeatures"]
    with pytest.raises(UntrustedModelError, match=r"does not trust: .*LeadFeatures"):
        load_model(crafted, narrower)

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, OrdinalEncoder, StandardScaler

from leadsift.leads.features import (
    DirectColumnTransformer,
    LevelCodes,
    RareLevelCollapser,
    add_features,
    column_major,
    derived_feature_names,
    levels_to_keep,
)


def test_add_features_sums_groups_and_splits_time():
    df = pd.DataFrame(
        {
            "a1": [1, 0, np.nan],
            "a2": [2, 0, 1],
            "b1": [0, 0, 5],
            "at": pd.to_datetime(["2025-03-01 10:15", "2025-03-02 23:00", None]),
        }
    )
    out = add_features(df, {"alpha": ["a1", "a2"], "beta": ["b1"]}, "at")
    assert list(out.columns[len(df.columns) :]) == derived_feature_names(
        {"alpha": [], "beta": []}, "at"
    )
    assert out["alpha_total"].tolist() == [3, 0, 1]
    assert out["interactions_total"].tolist() == [3, 0, 6]
    assert out["active_groups"].tolist() == [1, 0, 2]
    assert out["at_hour"].tolist()[:2] == [10, 23] and np.isnan(out["at_hour"].iloc[2])
    assert out["at_weekday"].tolist()[:2] == [5, 6] and out["at_month"].tolist()[:2] == [3, 3]


def test_time_parts_agree_with_pandas_before_and_after_1970_and_stay_missing_for_nat():
    rng = np.random.default_rng(0)
    at = pd.Series(pd.to_datetime(rng.integers(-3 * 10**9, 3 * 10**9, 2000), unit="s"))
    at[::7] = pd.NaT
    out = add_features(pd.DataFrame({"at": at}), {}, "at")
    for part, expected in (
        ("hour", at.dt.hour),
        ("weekday", at.dt.day_of_week),
        ("month", at.dt.month),
    ):
        np.testing.assert_array_equal(out[f"at_{part}"].to_numpy(), expected.to_numpy(dtype=float))


def test_add_features_without_groups_or_time_adds_nothing():
    df = pd.DataFrame({"x": [1, 2]})
    pd.testing.assert_frame_equal(add_features(df, {}, None), df)


def test_add_features_refuses_to_overwrite_an_input_column():
    with pytest.raises(ValueError, match="already exist"):
        add_features(pd.DataFrame({"g_total": [1], "c": [1]}), {"g": ["c"]}, None)


def test_levels_to_keep_covers_the_share_with_the_fewest_levels():
    values = pd.Series(["a"] * 50 + ["b"] * 30 + ["c"] * 15 + ["d"] * 5)
    assert levels_to_keep(values, 0.80, 10) == ["a", "b"]
    assert levels_to_keep(values, 0.81, 10) == ["a", "b", "c"]
    assert levels_to_keep(values, 1.0, 10) == ["a", "b", "c", "d"]
    assert levels_to_keep(values, 1.0, 2) == ["a", "b"]
    # Ties break by name, so the choice never depends on row order.
    assert levels_to_keep(pd.Series(["y", "x", "y", "x"]), 0.5, 10) == ["x"]


def test_collapser_learns_only_from_what_it_is_fitted_on():
    train = pd.DataFrame({"city": ["a"] * 6 + ["b"] * 3 + ["c"] + [None] * 2})
    test = pd.DataFrame({"city": ["a", "c", "z", None]})
    collapser = RareLevelCollapser(coverage=0.9).fit(train)
    assert collapser.levels_ == {"city": ["a", "b", "missing"]}
    assert collapser.transform(test)["city"].tolist() == ["a", "others", "others", "missing"]


def test_collapser_gives_categoricals_of_the_kept_levels_then_other_once():
    train = pd.DataFrame({"city": ["a"] * 5 + ["others"] * 3 + ["b"], "os": ["ios"] * 9})
    collapser = RareLevelCollapser(coverage=0.8).fit(train)
    collapsed = collapser.transform(pd.DataFrame({"city": ["b", "others", "a"], "os": [1, 2, 3]}))
    # a level spelt as `other` is kept once; the encoder after reads the codes
    assert collapsed["city"].cat.categories.tolist() == ["a", "others"]
    assert collapsed["city"].cat.codes.tolist() == [1, 1, 0]
    assert collapsed["os"].cat.categories.tolist() == ["ios", "others"]
    assert collapsed["os"].tolist() == ["others"] * 3
    assert collapser.transform(train.iloc[[0]])["city"].tolist() == ["a"]  # one served lead


def test_collapser_in_the_model_is_fitted_on_the_training_split_only(prepared, fit_model):
    train, later = prepared.iloc[:2500], prepared.iloc[2500:]
    pipeline = fit_model(train, hyperparams={"max_iter": 20})
    collapse = (
        pipeline.named_steps["encode"].named_transformers_["categorical"].named_steps["collapse"]
    )
    assert collapse.levels_["city"] == levels_to_keep(train["city"].fillna("missing"), 0.9, 100)
    assert collapse.levels_["city"] != levels_to_keep(later["city"].fillna("missing"), 0.9, 100)


def test_level_codes_are_ordinal_encoders_codes_with_unseen_levels_missing():
    train = pd.DataFrame({"city": ["pune", "agra", "others", "agra"], "os": ["ios", "web"] * 2})
    later = pd.DataFrame({"city": ["others", "delhi", "agra", "pune"], "os": ["web", "tv"] * 2})
    ordinal = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=np.nan).fit(train)
    codes = LevelCodes().fit(train)
    np.testing.assert_array_equal(codes.transform(later), ordinal.transform(later))
    np.testing.assert_array_equal(codes.transform(later)[:, 0], [1.0, np.nan, 0.0, 2.0])
    # categoricals (the collapser's) by their codes, unused and missing categories included
    cities = pd.CategoricalDtype(["zzz", "pune", "agra", "others", "delhi"])
    categorical = later.astype({"city": cities})
    np.testing.assert_array_equal(codes.transform(categorical), ordinal.transform(later))
    missing = categorical.assign(city=pd.Categorical([None, "agra", None, "zzz"], dtype=cities))
    np.testing.assert_array_equal(codes.transform(missing)[:, 0], [np.nan, 0.0, np.nan, np.nan])
    np.testing.assert_array_equal(codes.transform(missing.iloc[[1]])[0], [0.0, np.nan])


@pytest.mark.parametrize(
    "parts",
    [
        [
            ("codes", LevelCodes(), ["city", "os"]),
            ("numbers", FunctionTransformer(column_major), ["n"]),
        ],
        [("onehot", OneHotEncoder(sparse_output=False, handle_unknown="ignore"), ["city"])],
        [("none", LevelCodes(), []), ("scaled", StandardScaler(), ["n", "m"])],
        [("sparse", OneHotEncoder(handle_unknown="ignore"), ["os"])],
        [("kept", "passthrough", ["n"]), ("onehot", OneHotEncoder(sparse_output=False), ["os"])],
    ],
)
def test_direct_column_transformer_transforms_as_scikit_learns(parts):
    train = pd.DataFrame(
        {"city": ["pune", "agra", "goa", "agra"], "os": ["ios", "web"] * 2, "n": [1.0, 2, 3, 4]}
    ).assign(m=[0.5, np.nan, 2, 1], unused=list("abcd"))
    later = train.iloc[::-1].assign(city=["delhi", "goa", None, "pune"], n=[9.0, -1, np.nan, 0])
    direct = DirectColumnTransformer(parts).fit(train)
    reference = ColumnTransformer(parts).fit(train)
    for frame in (later, later.iloc[[2]]):
        got, expected = direct.transform(frame), reference.transform(frame)
        assert type(got) is type(expected)
        np.testing.assert_array_equal(
            got.toarray() if hasattr(got, "toarray") else got,
            expected.toarray() if hasattr(expected, "toarray") else expected,
        )
    if isinstance(parts[0][1], LevelCodes) and parts[0][2]:  # the encoded matrix stays column-major
        assert direct.transform(later).flags.f_contiguous


def test_direct_column_transformer_keeps_scikit_learns_frame_output():
    train = pd.DataFrame({"os": ["ios", "web", "ios"], "n": [1.0, 2.0, np.nan]})
    parts = [("onehot", OneHotEncoder(sparse_output=False), ["os"]), ("n", StandardScaler(), ["n"])]
    direct = DirectColumnTransformer(parts).set_output(transform="pandas").fit(train)
    reference = ColumnTransformer(parts).set_output(transform="pandas").fit(train)
    pd.testing.assert_frame_equal(direct.transform(train), reference.transform(train))


@pytest.mark.parametrize("kwargs", [{"coverage": 0.0}, {"coverage": 1.5}, {"max_levels": 0}])
def test_collapser_rejects_bad_settings(kwargs):
    with pytest.raises(ValueError, match=r"coverage|max_levels"):
        RareLevelCollapser(**kwargs).fit(pd.DataFrame({"c": ["a"]}))

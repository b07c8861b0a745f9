import numpy as np
import pandas as pd
import pytest

from leadsift.leads import reasons
from leadsift.leads.metrics import Tiers
from leadsift.leads.schema import raw_records
from tests.conftest import LIGHTGBM

EXPLAINED = {"lightgbm": LIGHTGBM, "logistic_regression": {"max_iter": 2000}}


@pytest.fixture(scope="module")
def models(prepared, fit_model):
    train = prepared.iloc[:3500]
    return {
        family: fit_model(train, family=family, hyperparams=hp) for family, hp in EXPLAINED.items()
    }


@pytest.fixture(scope="module")
def records(prepared, roles):
    return raw_records(prepared.iloc[3500:4500], roles)


def raw_log_odds(model, records):
    encoded = model[:-1].transform(records)
    if "lightgbm" in type(model[-1]).__module__:
        return model[-1].predict(encoded, raw_score=True)
    return model[-1].decision_function(encoded)


@pytest.mark.parametrize("family", sorted(EXPLAINED))
def test_base_plus_contributions_is_the_models_log_odds(models, records, family):
    model = models[family]
    found = reasons.contributions(model, records)
    np.testing.assert_allclose(found.log_odds, raw_log_odds(model, records), rtol=0, atol=1e-6)
    probability = model.predict_proba(records)[:, 1]
    np.testing.assert_allclose(1 / (1 + np.exp(-found.log_odds)), probability, atol=1e-9)


@pytest.mark.parametrize("family", sorted(EXPLAINED))
def test_contributions_are_counted_per_raw_input(models, records, roles, family):
    columns = list(reasons.contributions(models[family], records).by_input.columns)
    groups = [reasons.group_label(g) for g in roles.interaction_groups]
    assert set(groups) | {reasons.OVERALL, roles.timestamp} | set(roles.categorical) <= set(columns)
    members = {m for group in roles.interaction_groups.values() for m in group}
    assert not members & set(columns) and len(columns) == len(set(columns))
    assert not any(c.endswith(("_total", "_hour", "_weekday", "_month")) for c in columns)


@pytest.mark.parametrize("family", ["hist_gradient_boosting", "random_forest"])
def test_families_without_exact_contributions_say_so(prepared, fit_model, records, family):
    hp = {"max_iter": 10} if family == "hist_gradient_boosting" else {"n_estimators": 5}
    model = fit_model(prepared.iloc[:1000], family=family, hyperparams=hp)
    assert not reasons.explains(model)
    with pytest.raises(reasons.ReasonsUnavailableError, match="lightgbm or logistic_regression"):
        reasons.contributions(model, records)


@pytest.mark.parametrize("family", sorted(EXPLAINED))
def test_a_changed_input_moves_its_own_reason_the_way_the_score_moved(models, records, family):
    model = models[family]
    before = reasons.contributions(model, records)
    changed = records.assign(platform="Mobile App")
    after = reasons.contributions(model, changed)
    moved = after.log_odds - before.log_odds
    own = after.by_input["platform"] - before.by_input["platform"]
    clear = np.abs(moved) > 0.05
    assert clear.sum() > 100
    if family == "logistic_regression":  # linear: nothing else moves
        np.testing.assert_allclose(own, moved, atol=1e-9)
        return
    # TreeSHAP shares an interaction between the inputs in it, so the other inputs move too (about
    # 0.16 log-odds here, against 0.38 for platform), and one lead in ten the other way round.
    others = (after.by_input - before.by_input).drop(columns="platform").sum(axis=1).abs()
    assert (np.sign(own[clear]) == np.sign(moved[clear])).mean() >= 0.85
    assert own[clear].abs().mean() > 2 * others[clear].mean()


def test_reason_texts_name_the_input_its_value_and_effect(models, records, roles):
    model = models["lightgbm"]
    lead = records.iloc[:50].copy()
    lead["city"] = "Atlantis"  # never seen in training
    found = reasons.contributions(model, lead)
    texts = reasons.reason_columns(found, reasons.displayed_values(model, lead))
    assert list(texts.columns) == [f"{d}_{i}" for d in ("raises", "lowers") for i in (1, 2, 3)]
    effects = found.by_input.to_numpy()
    for row, (_, text) in enumerate(texts.iterrows()):
        ups = sorted(effects[row][effects[row] > 0], reverse=True)[:3]
        shown = [float(t.rsplit("(", 1)[1].rstrip(")")) for t in text[:3] if t]
        assert shown == pytest.approx(np.round(ups, 2), abs=0.006)
        assert all(" = " in t for t in text if t)
    cities = [t for t in texts.to_numpy().ravel() if t.startswith("city = ")]
    assert cities and all("atlantis (scored as others)" in t for t in cities)
    group = reasons.group_label(next(iter(roles.interaction_groups)))
    values = reasons.displayed_values(model, lead)[group]
    assert values.str.fullmatch(rf"{group} = (\d+|missing)").all()
    at = roles.timestamp
    lead[at] = ["2025-03-01 10:15:00", None, *lead[at].iloc[2:]]
    times = reasons.displayed_values(model, lead)[at]
    assert times.iloc[:2].tolist() == [f"{at} = 10h, Sat, Mar", f"{at} = missing"]


@pytest.mark.parametrize("leads", [reasons.FORMAT_EACH_BELOW - 1, 5000])
def test_reason_texts_round_effects_as_python_formats_them(leads):
    """A few leads' texts are formatted one by one, a batch's once per distinct value and cent;
    both give Python's own rounding, also for effects on half a cent in decimal, not in binary."""
    rng = np.random.default_rng(0)
    ups = np.concatenate(
        [[0.125, 0.005, 1.005, 2.675, 0.0049, 1e-9, 0.015, 3e9], rng.exponential(0.4, leads - 8)]
    )
    effects = np.column_stack([ups, -ups[::-1], rng.normal(0, 0.5, len(ups))])
    values = pd.DataFrame(
        {name: rng.choice([f"{name} = {k}" for k in range(4)], len(ups)) for name in "abc"}
    )
    contribution = reasons.Contributions(
        np.zeros(len(ups)), pd.DataFrame(effects, columns=[*"abc"])
    )
    texts = reasons.reason_columns(contribution, values)
    order = np.argsort(-effects, axis=1, kind="stable")
    for row in range(len(ups)):
        first = order[row, 0]
        expected = f"{values.iloc[row, first]} ({effects[row, first]:+.2f})"
        assert texts["raises_1"].iloc[row] == expected
        last = order[row, -1]
        effect = effects[row, last]
        assert texts["lowers_1"].iloc[row] == (
            f"{values.iloc[row, last]} ({effect:+.2f})" if effect < 0 else ""
        )


def test_examples_are_a_typical_hot_lead_the_borderline_one_and_a_typical_junk_one():
    tiers = Tiers(0.2, 0.7, {"hot": "hot", "warm": "warm", "cold": "cold"})
    probability = np.array([0.05, 0.1, 0.15, 0.21, 0.5, 0.75, 0.8, 0.95])
    chosen = reasons.example_positions(probability, tiers.assign(probability), tiers)
    assert chosen == {"hot": 6, "borderline": 3, "junk": 1}
    without_hot = Tiers(0.2, np.inf, tiers.names)
    assert "hot" not in reasons.example_positions(
        probability, without_hot.assign(probability), without_hot
    )


def test_global_view_ranks_inputs_by_mean_absolute_contribution():
    found = reasons.Contributions(
        np.zeros(3), pd.DataFrame({"a": [0.1, -0.1, 0.1], "b": [1.0, -2.0, 0.0]})
    )
    table = reasons.global_view(found)
    assert table["feature"].tolist() == ["b", "a"]
    assert table["importance"].tolist() == pytest.approx([1.0, 0.1])


@pytest.mark.parametrize("family", sorted(EXPLAINED))
def test_explaining_passes_the_records_once_and_scores_exactly_as_predict_proba(
    models, records, family
):
    model = models[family]
    probability, texts = reasons.explain(model, records)
    np.testing.assert_array_equal(probability, model.predict_proba(records)[:, 1])
    expected = reasons.reason_columns(
        reasons.contributions(model, records), reasons.displayed_values(model, records)
    )
    pd.testing.assert_frame_equal(texts, expected)

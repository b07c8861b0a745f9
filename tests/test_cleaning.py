import re
import sys

import numpy as np
import pandas as pd
import pytest

from leadsift.core.contract import (
    COLUMN,
    WHITESPACE_RUN,
    contract_violations,
    duplicate_rows,
    each_distinct,
    failing_cells,
    numbers_where_parsed,
    parse_numbers,
    rule,
    stacked,
)
from leadsift.core.io import InputError
from leadsift.leads.cleaning import (
    LeadNormalizer,
    clean_leads,
    normalize_categorical,
    normalize_leads,
    normalize_text,
)
from leadsift.leads.schema import (
    ROW_ID,
    ColumnRoles,
    canonical_labels,
    encode_target,
    lead_contract,
    parse_timestamps,
    target_classes,
)
from leadsift.leads.synth import TARGET

PLACEHOLDERS = ["Select", "N/A"]


def test_normalize_text_trims_cases_placeholders_and_aliases():
    values = pd.Series(["  Mumbai ", "BOMBAY", "new   delhi", "Select", "n/a", "", None, "Pune"])
    out = normalize_text(values, PLACEHOLDERS, {"Bombay": "Mumbai"})
    assert out.tolist() == ["mumbai", "mumbai", "new delhi", None, None, None, None, "pune"]


@pytest.mark.parametrize("rows", [slice(None), slice(1, 2), slice(3, 4), slice(0, 0)])
def test_normalize_text_as_categories_holds_the_same_levels(rows):
    """The model's normaliser gives categoricals (their codes spare the collapser grouping the
    texts again): the levels and missing cells are the texts', two variants of one level share
    its code, and so do one lead or none."""
    values = pd.Series([" Bombay", "mumbai", "Select", None, "Pune", "MUMBAI "], index=range(3, 9))
    values = values.iloc[rows]
    text = normalize_text(values, PLACEHOLDERS, {"Bombay": "Mumbai"})
    coded = normalize_text(values, PLACEHOLDERS, {"Bombay": "Mumbai"}, as_categories=True)
    assert isinstance(coded.dtype, pd.CategoricalDtype) and coded.index.equals(values.index)
    assert coded.astype(object).where(coded.notna(), None).tolist() == text.tolist()
    assert coded.cat.categories.is_unique and coded.cat.categories.notna().all()
    if len(values) == 6:
        assert coded.cat.codes.tolist() == [0, 0, -1, -1, 1, 0]


def test_categorical_columns_are_normalized_per_distinct_value_as_one_by_one():
    frame = pd.DataFrame(
        {
            "city": [" Bombay", "pune", " Bombay", None, "Select", np.nan, "PUNE "],
            "source": ["bombay", "Ads", "ads", "N/A", None, " ads", "Bombay"],
        },
        index=range(5, 12),
    )
    aliases = {"city": {"Bombay": "Mumbai"}}
    out = normalize_categorical(frame, PLACEHOLDERS, aliases)
    for column in frame:
        one_by_one = [
            normalize_text(frame[column].iloc[[i]], PLACEHOLDERS, aliases.get(column, {})).iloc[0]
            for i in range(len(frame))
        ]
        assert out[column].tolist() == one_by_one
        assert out[column].index.equals(frame.index) and out[column].dtype == object
    assert out["city"].tolist() == ["mumbai", "pune", "mumbai", None, None, None, "pune"]
    assert out["source"].tolist()[0] == "bombay"  # the alias is the city column's only


def test_each_distinct_calls_once_per_value_telling_equal_values_of_other_types_apart():
    calls = []

    def shown(value: object) -> str:
        calls.append(value)
        return repr(value)

    out = each_distinct(np.array(["x", 1, 1.0, True, "x", 1, None], dtype=object), shown)
    assert out.tolist() == ["'x'", "1", "1.0", "True", "'x'", "1", "None"]
    assert len(calls) == 5
    assert each_distinct(np.array(["b", "a", "b"], dtype=object), shown).tolist() == [
        "'b'",
        "'a'",
        "'b'",
    ]
    assert len(calls) == 7
    # a categorical: once per category, unused ones too, and once for missing where there is one
    levels = pd.Categorical(["b", None, "a", "b"], categories=["a", "b", "z"])
    assert each_distinct(levels, shown).tolist() == ["'b'", "nan", "'a'", "'b'"]
    assert len(calls) == 11
    assert each_distinct(levels[[0, 2]], shown, dtype=object).tolist() == ["'b'", "'a'"]
    assert len(calls) == 14


@pytest.mark.parametrize(
    "column",
    [
        pd.Series([1, 1.0, True, "1", None, np.nan, 1], dtype=object),  # pandas decides alone
        pd.Series(["a", None, np.nan, "a", None, "b", np.nan], dtype=object),
        pd.Series(["a", None, "a", "b", None, "b", "c"], dtype="str"),
        pd.Series([0.0, -0.0, np.nan, float("nan"), 0.0, 1.5, 1.5]),
        pd.Series(
            pd.to_datetime(["2024-01-01", None, "2024-01-01", None, "2024-01-02"] + [None] * 2)
        ),
        pd.Series([None] * 7, dtype=object),
    ],
)
def test_duplicate_rows_are_pandas_duplicated(column):
    rng = np.random.default_rng(3)
    frame = pd.DataFrame(
        {"x": column.to_numpy()[rng.integers(0, 7, 400)], "n": rng.integers(0, 3, 400)},
        index=rng.permutation(400),
    )
    expected = frame.duplicated(keep="first").to_numpy()
    assert 0 < expected.sum() < len(frame)
    assert duplicate_rows(frame).tolist() == expected.tolist()
    assert duplicate_rows(frame.iloc[:0]).tolist() == []
    # with a key (an id, some missing, most unique), only rows whose key repeats are compared
    ids = rng.integers(0, 250, len(frame)).astype(str).astype(object)
    ids[rng.random(len(frame)) < 0.1] = None
    keyed = frame.assign(id=pd.array(ids, dtype="str"))
    expected = keyed.duplicated(keep="first").to_numpy()
    assert 0 < expected.sum() < len(frame)
    assert duplicate_rows(keyed, key="id").tolist() == expected.tolist()


def test_normalize_text_reads_numbers_and_flags_as_their_texts():
    values = pd.Series([1, 1.0, True, " A ", None], dtype=object)
    assert normalize_text(values, [], {}).tolist() == ["1", "1.0", "true", "a", None]


def test_stacked_calls_once_on_distinct_texts_and_on_other_columns_whole():
    rows = [7, 8, 9, 10]
    frame = pd.DataFrame(
        {"a": pd.Series([1, 1.0, True, "x"], index=rows, dtype=object), "b": ["x", "x", None, "y"]},
        index=rows,
    )
    calls = []

    def shown(values: pd.Series) -> pd.Series:
        calls.append(len(values))
        return values.map(repr)

    out = stacked(shown, frame)
    assert calls == [4 + 3]  # column a whole (1, 1.0 and True are equal in Python), b's 3 texts
    assert out["a"].tolist() == ["1", "1.0", "True", "'x'"]
    assert out["b"].tolist() == ["'x'", "'x'", "nan", "'y'"]  # a text column's missing: NaN
    assert out.index.equals(frame.index)


def test_numbers_where_parsed_parses_columns_whose_every_text_parses_keeping_the_rest():
    frame = pd.DataFrame(
        {
            "city": ["pune", "goa"],
            "a": [" 3 ", "  "],  # a number and a blank: parsed
            "b": ["2", "two"],  # text that is not a number: kept for the contract to name
            "c": [1.5, None],  # numbers already
            "d": ["1e3", None],
        },
        index=[5, 9],
    )
    out = numbers_where_parsed(frame, ["a", "b", "c", "d"])
    assert list(out.columns) == list(frame.columns) and out.index.equals(frame.index)
    assert out["a"].tolist()[0] == 3.0 and np.isnan(out["a"].tolist()[1])
    pd.testing.assert_series_equal(out["d"], parse_numbers(frame["d"]))
    for kept in ("city", "b", "c"):
        pd.testing.assert_series_equal(out[kept], frame[kept])
    assert numbers_where_parsed(frame, ["c"]) is frame  # nothing to parse
    assert numbers_where_parsed(frame, ["b"]) is frame  # nothing that parses whole


def test_whitespace_run_is_pythons_whitespace_class_on_every_code_point():
    spelled_out = re.compile(WHITESPACE_RUN)
    for code in range(sys.maxunicode + 1):
        char = chr(code)
        assert bool(spelled_out.fullmatch(char)) == bool(re.fullmatch(r"\s", char)), hex(code)


def test_normalize_text_collapses_any_whitespace_run_like_python():
    values = pd.Series(["new\t\x0b delhi", "navi\u00a0\u2003mumbai", " a \u3000 b "])
    out = normalize_text(values, [], {})
    assert out.tolist() == [re.sub(r"\s+", " ", v.strip()).lower() for v in values]
    assert out.tolist() == ["new delhi", "navi mumbai", "a b"]


def test_canonical_labels_equate_number_spellings_and_case_keeping_index_and_name():
    values = pd.Series(
        [1, "1", " 1.0 ", "Yes", "YES ", "", None, np.nan, 0.0], index=range(10, 19), name="y"
    )
    out = canonical_labels(values)
    assert out.tolist() == ["1.0", "1.0", "1.0", "yes", "yes", pd.NA, pd.NA, pd.NA, "0.0"]
    assert out.index.equals(values.index) and out.name == "y" and out.dtype == "string"


def test_parse_timestamps_accepts_iso_and_other_formats_and_marks_bad_ones():
    out = parse_timestamps(
        pd.Series(["2025-03-01 10:00:00", "2025-03-01T11:30:00", "03/02/2025 08:00", "soon", None])
    )
    assert out[:3].tolist() == [
        pd.Timestamp("2025-03-01 10:00"),
        pd.Timestamp("2025-03-01 11:30"),
        pd.Timestamp("2025-03-02 08:00"),
    ]
    assert out[3:].isna().all()


def test_lead_normalizer_is_the_same_code_as_prepare(leads, roles, cleaning):
    export = leads[0].head(500)
    columns = {
        "categorical": roles.categorical,
        "numeric": roles.numeric_inputs,
        "timestamp": roles.timestamp,
    }
    step = LeadNormalizer(**columns, **cleaning)
    inputs = export[roles.model_inputs]
    out = step.fit(inputs).transform(inputs)
    expected = normalize_leads(inputs, **columns, **cleaning, as_categories=True)
    pd.testing.assert_frame_equal(out, expected)
    prepared = normalize_leads(inputs, **columns, **cleaning)  # text, as prepare writes it
    levels = list(roles.categorical)
    for column in levels:
        as_text = out[column].astype(object).where(out[column].notna(), None)
        assert as_text.tolist() == prepared[column].tolist(), column
    pd.testing.assert_frame_equal(out.drop(columns=levels), prepared.drop(columns=levels))


def test_prepare_accounts_for_every_row_of_the_dirty_export(leads, roles, cleaning):
    export, _ = leads
    result = clean_leads(export, roles, source="leads.csv", **cleaning)
    counts = result.counts
    assert counts["rows_in"] == len(export)
    assert (
        counts["rows_in"]
        == counts["rows_clean"] + counts["rows_duplicate"] + counts["rows_quarantined"]
    )
    assert counts["rows_duplicate"] == export.duplicated().sum() > 0
    assert counts["rows_quarantined"] == len(result.quarantine) > 0
    assert result.quarantine["reason"].str.startswith("negative ").all()
    clean = result.clean
    assert clean[roles.id].is_unique
    assert (clean[roles.count_columns] >= 0).all().all()
    assert clean["city"].dropna().str.islower().all()
    assert "bombay" not in set(clean["city"]) and "select" not in set(clean["city"])
    assert set(clean[TARGET]) == {0, 1}
    # Every clean or quarantined id comes from the input; none is lost.
    assert set(clean[roles.id]) | set(result.quarantine[roles.id]) == set(export[roles.id])


def _roles(**overrides) -> ColumnRoles:
    data = {
        "target": "y",
        "positive_label": "Yes",
        "categorical": ["colour"],
        "numeric": ["n"],
        "non_negative": ["n"],
        "flags": [],
        "id": None,
        "timestamp": "at",
        **overrides,
    }
    return ColumnRoles.from_params(data)


def test_quarantine_gives_a_reason_per_row():
    raw = pd.DataFrame(
        {
            "colour": ["red", "blue", "red", "red", "green", "red", "red", "red"],
            "n": ["1", "-2", "abc", "3", "4", "5", "-1", "6"],
            "at": [f"2025-01-0{day}" for day in range(1, 9)],
            "y": ["Yes", "No", "No", "Yes", None, "no", "Yes", "Maybe"],
        }
    )
    raw.loc[[3, 6], "at"] = ["never", "bad"]
    result = clean_leads(raw, _roles(), missing_values=PLACEHOLDERS, aliases={}, source="x")
    reasons = dict(zip(result.quarantine[ROW_ID], result.quarantine["reason"], strict=True))
    assert reasons == {
        2: "negative n",
        3: "non-numeric n",
        4: "missing or unparseable at",
        5: "missing target y",
        7: "negative n; missing or unparseable at",
        8: "target y not one of the two classes ['yes', 'no']",
    }
    assert result.clean[ROW_ID].tolist() == [1, 6]
    assert result.clean["y"].tolist() == [1, 0]


def test_the_contract_checks_flags_ids_and_is_the_same_for_a_batch_to_score():
    roles = _roles(numeric=["n", "f"], flags=["f"], id="lead")
    raw = pd.DataFrame(
        {
            "lead": ["a", "b", "b", None, "e"],
            "n": [1, 2, 3, 4, 5],
            "f": [0, 1, 2, 1, 0],
            "at": ["2025-01-01"] * 5,
        }
    )
    reasons = contract_violations(lead_contract(roles), raw)
    assert reasons.dropna().to_dict() == {
        1: "lead repeated with different content",
        2: "lead repeated with different content; f not 0 or 1",
        3: "missing lead",
    }


def test_contract_reasons_name_the_column_and_come_in_column_then_rule_order():
    raw = pd.DataFrame({"a": ["1", "-2", None, "x"], "b": [-1.0, 5.0, None, 2.0]})
    contract = [
        *rule(f"negative {COLUMN}", ["a", "b"], lambda c: ~c.numbers.lt(0)),
        *rule(f"big {COLUMN}", ["a", "b"], lambda c: c.numbers[["b"]].lt(3)),  # some columns
        *rule("a above b", ["a", "b"], lambda c: ~c.numbers["a"].gt(c.raw["b"])),
        *rule(f"missing {COLUMN}", ["a"], lambda c: c.raw.notna(), ignore_na=False),
        *rule("never applies", [], lambda c: c.raw.notna()),  # no columns: no rule
    ]
    assert len(contract) == 4
    reasons = contract_violations(contract, raw)
    # missing cells pass the rules that ignore them; a row with every cell missing passes a
    # per-row rule, and the per-row rule's reason comes after the per-column ones
    assert reasons.dropna().to_dict() == {
        0: "negative b; a above b",
        1: "negative a; big b",
        2: "missing a",
    }
    assert contract_violations(contract, raw.iloc[:0]).empty


@pytest.mark.parametrize("shape", [(0, 3), (1, 40), (500, 7)])
def test_failing_cells_are_numpys_nonzero_of_the_failures_in_its_order(shape):
    ok = np.random.default_rng(len(shape) + shape[0]).random(shape) > 0.05
    for cells in (ok, np.asfortranarray(ok), np.ones(shape, dtype=bool)):
        row, column = failing_cells(cells)
        expected = np.nonzero(~cells)
        np.testing.assert_array_equal(row, expected[0])
        np.testing.assert_array_equal(column, expected[1])


def test_target_given_as_labels_is_encoded_and_must_have_two_classes():
    labels = pd.Series(["Yes", "no ", "YES", None, "maybe", "No"], name="t")
    classes = target_classes(labels, "yes", None, "f")
    assert classes == ("yes", "no")
    assert encode_target(labels, classes).tolist() == [1, 0, 1, pd.NA, pd.NA, 0]
    numbers = pd.Series(["1", "0", "1.0"], name="t")
    assert encode_target(numbers, target_classes(numbers, 1, 0, "f")).tolist() == [1, 0, 1]
    with pytest.raises(InputError, match=r"two classes.*found 1"):
        target_classes(pd.Series(["a", "a"], name="t"), "a", None, "f.csv")
    with pytest.raises(InputError, match="positive_label"):
        target_classes(pd.Series(["a", "b"], name="t"), "z", None, "f.csv")
    with pytest.raises(InputError, match="negative_label` = 'c'"):
        target_classes(pd.Series(["a", "b"], name="t"), "a", "c", "f.csv")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"numeric": ["colour"]}, "declared twice"),
        ({"categorical": ["y"]}, "cannot also be a feature"),
        ({"non_negative": ["colour"]}, "not in `leads.numeric`"),
        ({"flags": ["colour"]}, "`leads.flags` lists"),
        ({"target": None}, "leads.target"),
        ({"categorical": [], "numeric": [], "non_negative": []}, "at least one feature"),
    ],
)
def test_inconsistent_roles_are_rejected_naming_the_key(overrides, message):
    with pytest.raises(InputError, match=message):
        _roles(**overrides)


def test_duplicates_are_exact_after_normalisation_only():
    raw = pd.DataFrame(
        {
            "colour": ["red", " RED", "red"],
            "n": [1, 1, 2],
            "at": ["2025-01-01"] * 3,
            "y": ["Yes", "Yes", "No"],
        }
    )
    result = clean_leads(raw, _roles(), missing_values=PLACEHOLDERS, aliases={}, source="x")
    assert result.counts == {
        "rows_in": 3,
        "rows_clean": 2,
        "rows_duplicate": 1,
        "rows_quarantined": 0,
    }
    assert np.array_equal(result.clean[ROW_ID], [1, 3])


def test_copies_of_a_lead_share_its_id_and_only_different_content_under_one_id_is_quarantined():
    raw = pd.DataFrame(
        {
            "lead": ["a", "a", "b", "b", "b", "c", "c", None, None],
            "colour": ["red", " Red", "red", "blue", "red", "red", "red", "red", "red"],
            "n": ["1", "1", "2", "2", "2", "-3", "-3", "4", "4"],
            "at": ["2025-01-01"] * 9,
        }
    )
    result = clean_leads(
        raw, _roles(id="lead"), missing_values=PLACEHOLDERS, aliases={}, source="x", labelled=False
    )
    # a's second row and b's third copy its first after normalising; c's copy repeats a
    # negative count, quarantined once; the copy of the lead without an id is a copy too
    assert result.counts == {
        "rows_in": 9,
        "rows_clean": 1,
        "rows_duplicate": 4,
        "rows_quarantined": 4,
    }
    assert result.clean["lead"].tolist() == ["a"]
    assert dict(zip(result.quarantine.index, result.quarantine["reason"], strict=True)) == {
        0: "lead repeated with different content",
        1: "lead repeated with different content",
        2: "negative n",
        3: "missing lead",
    }
    assert result.quarantine["lead"].fillna("-").tolist() == ["b", "b", "c", "-"]

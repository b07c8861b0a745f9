"""Every file in tests/data/bad/ gets the outcome its expected.yaml names, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from leadsift.core.io import read_table
from leadsift.core.profile import ProfileSettings, profile_table
from leadsift.leads.cleaning import clean_leads
from leadsift.leads.data_profile import profile_plan, target_mask
from leadsift.leads.schema import ColumnRoles, load_raw_table
from tests.corpus import check_complete, check_one_line_error, read_or_expected_error

BAD = Path(__file__).parent / "data" / "bad"
EXPECTED = yaml.safe_load((BAD / "expected.yaml").read_text())
ROLES = ColumnRoles.from_params(
    {
        "id": "lead_id",
        "timestamp": "created_at",
        "target": "converted",
        "positive_label": "Yes",
        "categorical": ["city", "source"],
        "numeric": ["visits"],
        "non_negative": ["visits"],
        "interaction_groups": {"payment": ["emi_clicks", "fee_views"]},
    }
)


def prepare(name: str):
    path = BAD / name
    raw = load_raw_table(path, ROLES, "leads.raw_path")
    return clean_leads(raw, ROLES, missing_values=["Select"], aliases={}, source=str(path))


def test_the_corpus_has_twenty_files_or_more_each_with_an_expectation():
    check_complete(BAD, EXPECTED, 20)


@pytest.mark.parametrize("name", sorted(n for n, e in EXPECTED.items() if "error" in e))
def test_unusable_files_stop_with_one_clear_line(name):
    assert name in check_one_line_error(lambda: prepare(name), EXPECTED[name]["error"])


@pytest.mark.parametrize("name", sorted(n for n, e in EXPECTED.items() if "error" not in e))
def test_row_problems_are_quarantined_with_their_reason(name):
    result = prepare(name)
    expected = EXPECTED[name]
    counts = result.counts
    assert (counts["rows_clean"], counts["rows_duplicate"]) == (
        expected["clean"],
        expected["duplicate"],
    )
    assert result.quarantine["reason"].value_counts().to_dict() == expected["quarantined"]
    assert (
        counts["rows_in"]
        == counts["rows_clean"] + counts["rows_duplicate"] + counts["rows_quarantined"]
    )


def test_non_utf8_bytes_are_decoded_as_latin1_and_said_so():
    raw = load_raw_table(BAD / "latin1.csv", ROLES, "leads.raw_path")
    assert raw.attrs["encoding"] == "latin-1"
    assert "Münster" in set(raw["city"])


def test_a_byte_order_mark_and_windows_line_ends_change_nothing():
    plain = load_raw_table(BAD / "crlf.csv", ROLES, "leads.raw_path")
    bom = load_raw_table(BAD / "utf8_bom.csv", ROLES, "leads.raw_path")
    assert list(bom.columns) == list(plain.columns) and bom.equals(plain)


def test_a_quoted_newline_stays_inside_its_field():
    result = prepare("quoted_newline.csv")
    assert "new delhi" in set(result.clean["city"])


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_readable_file_is_profiled_as_far_as_it_can_be_read(name):
    """The data profile reads a file as it is: only a file that cannot be read at all stops it,
    with prepare's line; a missing column or an unusable target is a warning on the page."""
    text = ["city", "source", "lead_id", "created_at", "converted"]
    raw = read_or_expected_error(
        lambda: read_table(BAD / name, "leads.raw_path", text=text), EXPECTED[name]
    )
    if raw is None:
        return
    positive, problem = target_mask(raw, ROLES, name)
    profile = profile_table(
        raw, profile_plan(ROLES, ["Select"]), ProfileSettings(), positive, target_problem=problem
    )
    assert profile["table"]["rows"] == len(raw)
    warnings = "\n".join(profile["warnings"])
    if name == "missing_column.csv":
        assert "source: declared but not in the file (`leads.categorical`)" in warnings
    if name == "one_class.csv":
        assert positive is None and "no target analysis" in warnings
    if "error" not in EXPECTED[name] and positive is not None:
        assert profile["target"]["labelled"] == positive.notna().sum() > 0

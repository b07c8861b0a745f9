"""Every file in tests/data/bad_transactions/ gets the outcome expected.yaml names."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from leadsift.core.io import read_table
from leadsift.core.profile import ProfileSettings, profile_table
from leadsift.customers.cleaning import clean_transactions
from leadsift.customers.data_profile import profile_plan
from leadsift.customers.schema import TransactionRoles, load_transactions
from tests.corpus import check_complete, check_one_line_error, read_or_expected_error

BAD = Path(__file__).parent / "data" / "bad_transactions"
EXPECTED = yaml.safe_load((BAD / "expected.yaml").read_text())
ROLES = TransactionRoles.from_params(
    {
        "customer_id": "CustomerID",
        "timestamp": "InvoiceDate",
        "quantity": "Quantity",
        "unit_price": "UnitPrice",
        "invoice": "InvoiceNo",
        "product": "StockCode",
        "description": "Description",
        "country": "Country",
        "cancellation_prefix": "C",
    }
)


def prepare(name: str):
    raw = load_transactions(BAD / name, ROLES, "transactions.raw_path")
    return raw, clean_transactions(raw, ROLES, source=name)


def test_the_corpus_has_twelve_files_or_more_each_with_an_expectation():
    check_complete(BAD, EXPECTED, 12)


@pytest.mark.parametrize("name", sorted(n for n, e in EXPECTED.items() if "error" in e))
def test_unusable_files_stop_with_one_clear_line(name):
    check_one_line_error(lambda: prepare(name), EXPECTED[name]["error"])


@pytest.mark.parametrize("name", sorted(n for n, e in EXPECTED.items() if "error" not in e))
def test_row_problems_are_quarantined_with_their_reason(name):
    expected = EXPECTED[name]
    raw, result = prepare(name)
    assert {k: result.counts[k] for k in expected["counts"]} == expected["counts"]
    reasons = result.quarantine["reason"].str.split("; ").explode().value_counts().to_dict()
    assert reasons == expected["reasons"]
    # Every line is accounted for, against the file itself.
    lines = sum(1 for _ in (BAD / name).open(encoding="latin-1")) - 1
    assert (
        len(raw)
        == lines
        == sum(result.counts[k] for k in ("rows_clean", "rows_duplicate", "rows_quarantined"))
    )
    if "encoding" in expected:
        assert raw.attrs["encoding"] == expected["encoding"]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_readable_export_is_profiled_as_far_as_it_can_be_read(name):
    raw = read_or_expected_error(
        lambda: read_table(BAD / name, "transactions.raw_path", text=ROLES.text), EXPECTED[name]
    )
    if raw is None:
        return
    profile = profile_table(raw, profile_plan(ROLES), ProfileSettings())
    assert profile["table"]["rows"] == len(raw)
    absent = [c for c in ROLES.columns if c not in raw.columns]
    found = {
        f["column"] for f in profile["findings"] if f["problem"] == "declared but not in the file"
    }
    assert found == set(absent)

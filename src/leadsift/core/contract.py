"""Data contracts as pandera schemas whose failures become quarantine reasons, for both pipelines.

A pipeline declares its row-level contract with `check`: each check's name is the reason a failing
row is quarantined with. `contract_violations` validates lazily and turns pandera's failure cases
into one `; `-joined reason per row, so the contract itself is what quarantines, not a parallel
copy of its rules. Values are checked as "parses as" (numbers, times), since exports are text.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd
import pandera.pandas as pa

# Python's `\s`, spelled out (a test checks every code point). pandas sends patterns with `\s` to
# Python's slow `re`, because RE2 misses some of these, but runs this explicit class in pyarrow.
WHITESPACE_RUN = (
    "[\t\n\x0b\x0c\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+"
)


@dataclass(frozen=True)
class Cleaned:
    """What preparing an export gives: the clean rows, the quarantined raw rows with a `reason`,
    and the row accounting (`rows_in = rows_clean + rows_duplicate + rows_quarantined`, ...)."""

    clean: pd.DataFrame
    quarantine: pd.DataFrame
    counts: dict[str, int]


def squeeze(values: pd.Series) -> pd.Series:
    """Text trimmed, with every run of whitespace collapsed to one space."""
    return values.astype("string").str.strip().str.replace(WHITESPACE_RUN, " ", regex=True)


def parse_numbers(values: pd.Series) -> pd.Series:
    """Numbers from a raw column; text that is not a number becomes NaN (blank stays missing)."""
    if pd.api.types.is_numeric_dtype(values):
        return values
    text = values.astype("string").str.strip()
    return pd.to_numeric(text, errors="coerce").astype("float64")


def blank(values: pd.Series) -> pd.Series:
    """Missing, or text that is empty once trimmed."""
    return values.isna() | values.astype("string").str.strip().eq("")


def check(
    reason: str, test: Callable[[pd.Series], pd.Series], *, ignore_na: bool = True
) -> pa.Check:
    """A contract check whose failing rows are quarantined with `reason`."""
    return pa.Check(test, name=reason, error=reason, ignore_na=ignore_na)


def contract_violations(contract: pa.DataFrameSchema, raw: pd.DataFrame) -> pd.Series:
    """One reason string per row that breaks `contract` ("; "-joined), missing where it holds."""
    reasons = pd.Series(None, index=raw.index, dtype=object)
    try:
        contract.validate(raw, lazy=True, inplace=True)
    except pa.errors.SchemaErrors as err:
        cases = err.failure_cases
        if cases["index"].isna().any():  # a table-level failure, not a row's
            raise AssertionError(f"contract failed on the table:\n{cases}") from err
        checks = [*(c for col in contract.columns.values() for c in col.checks), *contract.checks]
        order = {c.name: i for i, c in enumerate(checks)}
        cases = (
            cases.assign(order=cases["check"].map(order))
            .sort_values("order", kind="stable")
            .drop_duplicates(["index", "check"])
        )
        joined = cases.groupby("index", sort=False)["check"].agg("; ".join)
        reasons[joined.index] = joined
    return reasons

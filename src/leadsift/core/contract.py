"""Data contracts: declared row-level rules whose failures become quarantine reasons, for both
pipelines.

A pipeline declares its contract as `Rule`s, each with the reason a failing row is quarantined
with. A rule tests a block of columns at once (all counts of a lead, say) and answers per cell,
its reason naming the column (`negative {column}`), or per row for a rule across columns.
`contract_violations` runs the rules and joins each row's reasons with `; `, so the contract itself
is what quarantines, not a parallel copy of its rules. Values are checked as "parses as" (numbers,
times), since exports are text.

The rules run as a few whole-block operations, with each block's numbers and blanks worked out
once (`Cells`), so checking one served lead costs a few milliseconds; a general schema library's
per-check machinery cost about fifty, whatever the number of rows.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

# Python's `\s`, spelled out (a test checks every code point). pandas sends patterns with `\s` to
# Python's slow `re`, because RE2 misses some of these, but runs this explicit class in pyarrow.
WHITESPACE_RUN = (
    "[\t\n\x0b\x0c\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+"
)
COLUMN = "{column}"  # where a per-cell rule's reason names the failing column


class ContractBreachError(ValueError):
    """Records a model will not answer for, with the row, column and problem of each: served, a
    400 answer carrying this message."""


@dataclass(frozen=True)
class Cleaned:
    """What preparing an export gives: the clean rows, the quarantined raw rows with a `reason`,
    and the row accounting (`rows_in = rows_clean + rows_duplicate + rows_quarantined`, ...)."""

    clean: pd.DataFrame
    quarantine: pd.DataFrame
    counts: dict[str, int]


class Cells:
    """The columns a rule checks: the raw values, and their numbers and blanks, each worked out
    once for all the rules over the same columns."""

    def __init__(self, raw: pd.DataFrame) -> None:
        self.raw = raw

    @functools.cached_property
    def numbers(self) -> pd.DataFrame:
        return parse_numbers(self.raw)

    @functools.cached_property
    def blank(self) -> pd.DataFrame:
        return blank(self.raw)

    @functools.cached_property
    def missing(self) -> np.ndarray:
        """Per cell, whether the raw value is missing (what `ignore_na` lets pass)."""
        return self.raw.isna().to_numpy(dtype=bool)

    @functools.cached_property
    def position(self) -> dict[str, int]:
        return {column: i for i, column in enumerate(self.raw.columns)}

    @functools.cached_property
    def has_missing(self) -> np.ndarray:
        """Per column, whether any of its cells is missing (numbers read as integers never are)."""
        return self.missing.any(axis=0)

    def passes_where_missing(self, ok: np.ndarray, columns: Sequence[str]) -> np.ndarray:
        """`ok` (cells of `columns`) with the missing cells passing, for a rule with `ignore_na`;
        only the columns that hold a missing cell are touched, so a batch's counts cost nothing."""
        where = [self.position[c] for c in columns]
        touched = [i for i, at in enumerate(where) if self.has_missing[at]]
        if not touched:
            return ok
        ok = ok.copy()
        ok[:, touched] |= self.missing[:, [where[i] for i in touched]]
        return ok


@dataclass(frozen=True)
class Rule:
    """Rows where `test` is False break the contract and are quarantined with `reason`.

    `test` takes the `Cells` of `columns` and answers either a boolean frame over those columns
    (or some of them; per cell, `{column}` in the reason names the failing column) or a boolean
    series (per row). With `ignore_na`, a missing cell passes (per row: a row whose cells are all
    missing).
    """

    reason: str
    columns: tuple[str, ...]
    test: Callable[[Cells], pd.DataFrame | pd.Series]
    ignore_na: bool = True


def rule(
    reason: str,
    columns: Sequence[str],
    test: Callable[[Cells], pd.DataFrame | pd.Series],
    *,
    ignore_na: bool = True,
) -> list[Rule]:
    """A rule over `columns`, or none when there are no columns to check."""
    return [Rule(reason, tuple(columns), test, ignore_na)] if len(columns) else []


def squeeze(values: pd.Series) -> pd.Series:
    """Text trimmed, with every run of whitespace collapsed to one space."""
    return values.astype("string").str.strip().str.replace(WHITESPACE_RUN, " ", regex=True)


def stacked(function: Callable[[pd.Series], pd.Series], frame: pd.DataFrame) -> pd.DataFrame:
    """An element-wise `function` of each column of `frame`, called once: on the columns' values
    stacked end to end, each column's distinct texts only once. A batch repeats its texts (a few
    hundred cities in a million leads), and one record pays the call's fixed cost once, not per
    column (its cells are distinct already, so they are not grouped). Columns holding other than
    text go in whole: Python holds 1, 1.0 and True equal, which their texts are not."""
    if frame.columns.empty:
        return frame
    codes, values = [], []
    for _, column in frame.items():
        cells, code = column.to_numpy(dtype=object), None
        if len(cells) > 1 and pd.api.types.infer_dtype(cells, skipna=True) in ("string", "empty"):
            code, cells = pd.factorize(cells, use_na_sentinel=False)
        codes.append(code)
        values.append(cells)
    result = function(pd.Series(np.concatenate(values), dtype=object)).to_numpy()
    parts = np.split(result, np.cumsum([len(v) for v in values])[:-1])
    table = np.column_stack(
        [part if code is None else part[code] for part, code in zip(parts, codes, strict=True)]
    )
    return pd.DataFrame(table, index=frame.index, columns=frame.columns, dtype=table.dtype)


def select_columns(frame: pd.DataFrame, names: Sequence[str]) -> pd.DataFrame:
    """`frame[names]`, each name looked up on its own: pandas first makes an index of the names,
    which costs more than the selection itself when the frame is one served lead. All the
    columns in their order (a served lead's, as sent) give a shallow copy, taking nothing."""
    names = list(names)
    if list(frame.columns) == names:
        return frame.copy(deep=False)  # copy-on-write: changing it leaves `frame` as it is
    return frame.take([frame.columns.get_loc(name) for name in names], axis=1)


def frame_of_columns(
    columns: Mapping[str, np.ndarray], index: pd.Index, dtype: Any = None
) -> pd.DataFrame:
    """A frame of `columns` (arrays as long as `index`) held as one block: built from the dict,
    pandas makes a block per column, and building and each step after cost per block."""
    n = len(index)
    block = np.vstack(list(columns.values())) if columns else np.empty((0, n), dtype=dtype)
    return pd.DataFrame(block.T, index=index, columns=list(columns), dtype=dtype)


def groupable(values: pd.Series) -> np.ndarray | pd.api.extensions.ExtensionArray:
    """A column's cells as `distinct_values` groups them fastest: a pandas categorical by its
    codes and pandas' pyarrow strings by pyarrow, each as it is, anything else as Python
    objects (numbers and text alike)."""
    cells = values.array
    if isinstance(cells, pd.Categorical) or isinstance(values.dtype, pd.StringDtype):
        return cells
    return values.to_numpy(dtype=object)


@functools.lru_cache(maxsize=4096)
def levels_dtype(*levels: str) -> pd.CategoricalDtype:
    """The categorical dtype of these levels (distinct, in order), made once: making one costs a
    served lead more than working out its levels, and served leads repeat their levels."""
    return pd.CategoricalDtype(list(levels))


def each_distinct(
    values: np.ndarray | pd.api.extensions.ExtensionArray | pd.Categorical,
    function: Callable[[Any], Any],
    dtype: Any = object,
) -> np.ndarray:
    """`function` of each of `values` (an array of `dtype`), called once per distinct value
    (`distinct_values`): a batch repeats its levels, counts and times, so a million leads need
    thousands of calls, not millions."""
    codes, distinct = distinct_values(values)
    return np.array([function(v) for v in distinct], dtype=dtype)[codes]


def distinct_values(
    values: np.ndarray | pd.api.extensions.ExtensionArray | pd.Categorical,
) -> tuple[np.ndarray, list[Any]]:
    """The distinct values (missing included) and the position of each value among them. Values
    of mixed types are told apart by type too: Python holds 1, 1.0 and True equal, which their
    texts are not. One value (a served lead) skips the grouping; a pandas categorical is grouped
    already: its categories are its values (missing, code -1, is the last)."""
    if isinstance(values, pd.Categorical):  # (even one value: its `tolist` costs more)
        distinct, codes = values.categories.tolist(), values.codes
        if (codes < 0).any():
            distinct.append(np.nan)
        return codes, distinct
    if len(values) == 1:
        return np.zeros(1, dtype=np.intp), values.tolist()
    if values.dtype == object and pd.api.types.infer_dtype(values, skipna=True).startswith("mixed"):
        typed = np.fromiter(((type(v), v) for v in values), dtype=object, count=len(values))
        codes, distinct = pd.factorize(typed, use_na_sentinel=False)
        return codes, [v for _, v in distinct.tolist()]
    codes, distinct = pd.factorize(values, use_na_sentinel=False)
    return codes, distinct.tolist()


def duplicate_rows(frame: pd.DataFrame, key: str | None = None) -> np.ndarray:
    """`frame.duplicated(keep="first")` as an array, in about half the time on a wide batch:
    pandas factorizes every column and combines the codes, while one 64-bit hash per row leaves
    only the rows whose hash repeats for pandas to decide. Text and object columns are hashed by
    their codes from `pd.factorize`, which holds equal what `duplicated` does (1, 1.0 and True
    in one column; their texts would hash apart) and is faster than hashing the texts.

    With `key`, a column every copy of a row repeats (an id), only the rows whose key repeats
    can be copies, and only those are compared: most ids are unique."""
    if key is not None:
        candidate = frame[key].duplicated(keep=False).to_numpy()
        duplicate = np.zeros(len(frame), dtype=bool)
        duplicate[candidate] = duplicate_rows(frame[candidate])
        return duplicate
    keys = frame.copy(deep=False)
    for i, dtype in enumerate(frame.dtypes):
        if pd.api.types.is_object_dtype(dtype) or isinstance(dtype, pd.StringDtype):
            keys.isetitem(i, pd.factorize(frame.iloc[:, i])[0])
    repeated = pd.util.hash_pandas_object(keys, index=False).duplicated(keep=False).to_numpy()
    duplicate = np.zeros(len(frame), dtype=bool)
    duplicate[repeated] = frame[repeated].duplicated(keep="first").to_numpy()
    return duplicate


def _replaced(frame: pd.DataFrame, columns: list[str], new: pd.DataFrame) -> pd.DataFrame:
    """`frame` with `columns` taken from `new` (all of them: `new` as it is)."""
    if len(columns) == len(frame.columns):
        return new
    return pd.concat([frame.drop(columns=columns), new], axis=1)[frame.columns]


def each_column(
    function: Callable[[pd.Series], pd.Series], values: pd.DataFrame | pd.Series
) -> pd.DataFrame | pd.Series:
    """`function` of a series, or of each column of a frame (as a frame, even without rows)."""
    if isinstance(values, pd.Series):
        return function(values)
    return pd.DataFrame({c: function(values[c]) for c in values.columns}, index=values.index)


def text_columns(frame: pd.DataFrame, among: Sequence[str] | None = None) -> list[str]:
    """The columns (of `among`, or all) that are not numeric yet (text from an export)."""
    dtypes = dict(zip(frame.columns, frame.dtypes, strict=True))
    return [c for c in (frame.columns if among is None else among) if not _numeric(dtypes[c])]


def _numeric(dtype: Any) -> bool:
    """`pd.api.types.is_numeric_dtype`, answered at once for numpy's own dtypes (booleans,
    integers, floats, complex): a served lead's 40 counts asked pandas' general check each time."""
    if isinstance(dtype, np.dtype):
        return dtype.kind in "biufc"
    return pd.api.types.is_numeric_dtype(dtype)


def parse_numbers(values: pd.DataFrame | pd.Series) -> pd.DataFrame | pd.Series:
    """Numbers from raw columns; text that is not a number becomes NaN (blank stays missing).
    Columns that are numeric already are returned as they are, without a copy."""
    if isinstance(values, pd.DataFrame):
        text = text_columns(values)
        if not text:
            return values
        return _replaced(values, text, stacked(parse_numbers, select_columns(values, text)))
    if pd.api.types.is_numeric_dtype(values):
        return values
    text = values.astype("string").str.strip()
    return pd.to_numeric(text, errors="coerce").astype("float64")


def numbers_where_parsed(frame: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """`frame` with each text column among `columns` replaced by its numbers (`parse_numbers`)
    where every cell of it parses or is blank; a column holding other text stays as it came, for
    the contract to name. The contract and the steps after it then skip parsing, which on a
    single record is mostly the fixed cost of pandas calls on text columns."""
    text = text_columns(frame, columns)
    if not text:
        return frame
    raw = select_columns(frame, text)
    numbers = parse_numbers(raw)
    rows, cols = np.nonzero(numbers.isna().to_numpy() & raw.notna().to_numpy())
    if len(rows):  # not a number: blank text is missing, other text stays for the contract
        cells = pd.Series(raw.to_numpy(dtype=object)[rows, cols], dtype=object)
        unparsed = set(cols[~blank(cells).to_numpy()].tolist())
        text = [column for i, column in enumerate(text) if i not in unparsed]
    if not text:
        return frame
    # the numbers as one block: a frame of many one-column blocks costs per block in each step
    parsed = set(text)
    others = [column for column in frame.columns if column not in parsed]
    joined = pd.concat([select_columns(frame, others), select_columns(numbers, text)], axis=1)
    return select_columns(joined, frame.columns)


def finite(numbers: pd.DataFrame) -> pd.DataFrame:
    """Per cell of the float columns, whether it is finite: integer columns cannot hold infinity,
    and skipping them saves converting a million leads' counts to floats."""
    floats = [column for column, dtype in numbers.dtypes.items() if dtype.kind == "f"]
    return ~np.isinf(select_columns(numbers, floats))


def finite_number(cells: Cells) -> pd.DataFrame:
    """Per cell, whether it is a finite number (text that parses as one counts; missing does not,
    so a rule with `ignore_na` lets it pass)."""
    numbers = cells.numbers
    finite = np.isfinite(numbers.to_numpy(dtype=float, na_value=np.nan))
    return pd.DataFrame(finite, index=numbers.index, columns=numbers.columns)


def blank(values: pd.DataFrame | pd.Series) -> pd.DataFrame | pd.Series:
    """Missing, or text that is empty once trimmed."""
    if isinstance(values, pd.DataFrame):
        text = text_columns(values)
        missing = values.isna()
        if not text:
            return missing
        # a batch column by column, in pyarrow's string kernels (grouping a million distinct
        # ids first is far slower); one record in one call
        texts = select_columns(values, text)
        return _replaced(
            missing, text, stacked(blank, texts) if len(values) == 1 else each_column(blank, texts)
        )
    if pd.api.types.is_numeric_dtype(values):
        return values.isna()
    empty = values.astype("string").str.strip().eq("")  # missing where the value is
    return values.isna() | empty.to_numpy(dtype=bool, na_value=True)


def failing_cells(ok: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`np.nonzero(~ok)`: the rows and columns of the failing cells, by row, then column. Most
    rows pass, so the cells are searched only in the rows that fail somewhere."""
    failing = ~ok.all(axis=1)
    row, column = np.nonzero(~ok[failing])
    return np.flatnonzero(failing)[row], column


def contract_violations(contract: Sequence[Rule], raw: pd.DataFrame) -> pd.Series:
    """One reason string per row that breaks `contract` ("; "-joined), missing where it holds.

    A row's reasons are ordered by column (in order of first mention in the contract), then by
    rule; per-row rules come last.
    """
    place = {c: i for i, c in enumerate(dict.fromkeys(c for r in contract for c in r.columns))}
    rows, places, numbers, texts = [], [], [], []
    blocks: dict[tuple[str, ...], Cells] = {}  # rules often share their columns
    for number, each in enumerate(contract):
        if each.columns not in blocks:
            blocks[each.columns] = Cells(select_columns(raw, each.columns))
        cells = blocks[each.columns]
        passed = each.test(cells)
        if isinstance(passed, pd.DataFrame):
            names = list(passed.columns)
            ok = passed.to_numpy(dtype=bool, na_value=False)
            if each.ignore_na:
                ok = cells.passes_where_missing(ok, names)
            row, column = failing_cells(ok)
            failed = [names[c] for c in column]
            places.append(np.array([place[n] for n in failed], dtype=np.int64))
            texts.append(np.array([each.reason.replace(COLUMN, n) for n in failed], dtype=object))
        else:
            ok = passed.to_numpy(dtype=bool, na_value=False)
            if each.ignore_na:
                ok = ok | cells.missing.all(axis=1)
            (row,) = np.nonzero(~ok)
            places.append(np.full(len(row), len(place), dtype=np.int64))
            texts.append(np.full(len(row), each.reason, dtype=object))
        rows.append(row)
        numbers.append(np.full(len(row), number, dtype=np.int64))
    reasons = pd.Series(None, index=raw.index, dtype=object)
    if not sum(map(len, rows)):
        return reasons
    row, text = np.concatenate(rows), np.concatenate(texts)
    order = np.lexsort((np.concatenate(numbers), np.concatenate(places), row))
    row, text = row[order], text[order].tolist()
    # each row's reasons are adjacent now: joined slice by slice (a pandas groupby calls Python
    # per row anyway, with far more overhead)
    first = np.flatnonzero(np.r_[True, row[1:] != row[:-1]])
    bounds = zip(first.tolist(), [*first[1:].tolist(), len(row)], strict=True)
    reasons.iloc[row[first]] = ["; ".join(text[start:end]) for start, end in bounds]
    return reasons

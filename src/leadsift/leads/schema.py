"""Column roles: which column of a lead table plays which part, read from config.yaml `leads:`.

Nothing downstream names a column of the default dataset; everything asks the roles. That is what
lets a team point leadsift at its own CRM export by editing params only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from leadsift.core.contract import COLUMN, Rule, each_column, finite, rule, select_columns
from leadsift.core.io import InputError, first_few, read_table

ROW_ID = "row_number"  # identifier made from the raw file's row number when `leads.id` is null


@dataclass(frozen=True)
class ColumnRoles:
    target: str
    positive_label: Any
    categorical: tuple[str, ...]
    numeric: tuple[str, ...] = ()
    interaction_groups: dict[str, tuple[str, ...]] = field(default_factory=dict)
    non_negative: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()
    negative_label: Any = None
    id: str | None = None
    timestamp: str | None = None

    @classmethod
    def from_params(cls, data: dict[str, Any]) -> ColumnRoles:
        """Build roles from the `leads:` section, rejecting inconsistent declarations."""
        for key in ("target", "positive_label"):
            if data.get(key) is None:
                raise InputError(f"config.yaml: `leads.{key}` is required")
        groups = {
            str(g): tuple(cols or ()) for g, cols in (data.get("interaction_groups") or {}).items()
        }
        roles = cls(
            target=data["target"],
            positive_label=data["positive_label"],
            categorical=tuple(data.get("categorical") or ()),
            numeric=tuple(data.get("numeric") or ()),
            interaction_groups=groups,
            non_negative=tuple(data.get("non_negative") or ()),
            flags=tuple(data.get("flags") or ()),
            negative_label=data.get("negative_label"),
            id=data.get("id") or None,
            timestamp=data.get("timestamp") or None,
        )
        roles.check()
        return roles

    def check(self) -> None:
        declared = [*self.categorical, *self.numeric, *self.interactions]
        seen: set[str] = set()
        for column in declared:
            if column in seen:
                raise InputError(
                    f"config.yaml: column {column!r} is declared twice across "
                    "`leads.categorical`, `leads.numeric` and `leads.interaction_groups`"
                )
            seen.add(column)
        if not declared:
            raise InputError(
                "config.yaml: declare at least one feature column in `leads.categorical`,"
                " `leads.numeric` or `leads.interaction_groups`"
            )
        special = {self.target, self.id, self.timestamp} - {None}
        if clash := special & seen:
            raise InputError(
                f"config.yaml: {sorted(clash)} is the target, id or timestamp and cannot also be a "
                "feature column in `leads:`"
            )
        for key in ("non_negative", "flags"):
            if stray := set(getattr(self, key)) - set(self.numeric):
                raise InputError(
                    f"config.yaml: `leads.{key}` lists {sorted(stray)}, not in `leads.numeric`"
                )

    def key_of(self, column: str) -> str:
        """The config.yaml key that declares `column`, for error messages."""
        singles = {
            self.id: "leads.id",
            self.timestamp: "leads.timestamp",
            self.target: "leads.target",
        }
        if column in singles:
            return singles[column]
        for key in ("categorical", "numeric"):
            if column in getattr(self, key):
                return f"leads.{key}"
        group = next(g for g, cols in self.interaction_groups.items() if column in cols)
        return f"leads.interaction_groups.{group}"

    @property
    def interactions(self) -> list[str]:
        return [c for cols in self.interaction_groups.values() for c in cols]

    @property
    def numeric_inputs(self) -> list[str]:
        """Numeric model inputs: declared numeric columns, then interaction counts."""
        return [*self.numeric, *self.interactions]

    @property
    def count_columns(self) -> list[str]:
        """Columns whose negative values are impossible: declared non-negatives and all counts."""
        return [*self.non_negative, *self.interactions]

    @property
    def id_column(self) -> str:
        return self.id or ROW_ID

    @property
    def model_inputs(self) -> list[str]:
        """Columns of a raw lead record that the saved model reads (id and target excluded)."""
        time = [self.timestamp] if self.timestamp else []
        return [*self.categorical, *self.numeric_inputs, *time]

    @property
    def text(self) -> list[str]:
        """Columns read as text: levels and ids keep their leading zeros, times and the target
        are parsed from their text."""
        return [c for c in (*self.categorical, self.id, self.timestamp, self.target) if c]

    @property
    def required(self) -> list[str]:
        """Columns a training table must have: the id if declared, model inputs, the target."""
        ident = [self.id] if self.id else []
        return [*ident, *self.model_inputs, self.target]


def load_raw_table(
    path: str | Path, roles: ColumnRoles, key: str, *, labelled: bool = True
) -> pd.DataFrame:
    """Read a raw lead table, its categorical, id, timestamp and target columns as text, and check
    that every declared column is there (the target only when `labelled`)."""
    text = roles.text if labelled else [c for c in roles.text if c != roles.target]
    raw = read_table(path, key, text=text)
    check_columns(raw, roles, str(path), labelled=labelled)
    return raw


def check_columns(
    df: pd.DataFrame, roles: ColumnRoles, source: str, *, labelled: bool = True
) -> None:
    """Fail with one line naming each missing column and the params key that declares it.

    An unlabelled table (a batch to score) needs every required column but the target.
    """
    needed = roles.required if labelled else roles.required[:-1]
    missing = [c for c in needed if c not in df.columns]
    if not missing:
        return
    shown = first_few([f"{c!r} ({roles.key_of(c)})" for c in missing], 6)
    have = ", ".join(map(str, df.columns[:12])) + (" …" if len(df.columns) > 12 else "")
    raise InputError(
        f"{source}: missing column(s) {shown} declared in config.yaml; the file has: {have}. "
        "Rename the columns in config.yaml `leads:` or in the file."
    )


def parse_timestamps(values: pd.Series) -> pd.Series:
    """Parse timestamps; anything unparseable becomes NaT."""
    if pd.api.types.is_datetime64_any_dtype(values):
        return values.dt.tz_localize(None) if values.dt.tz is not None else values
    text = values.astype("string").str.strip()
    parsed = pd.to_datetime(text, errors="coerce", format="ISO8601")
    if parsed.hasnans:  # most batches, and a served lead, have no time to retry
        retry = parsed.isna() & text.notna()
        if retry.any():
            parsed[retry] = pd.to_datetime(text[retry], errors="coerce", format="mixed")
    return parsed.astype("datetime64[ns]")


def canonical_labels(values: pd.Series) -> pd.Series:
    """Numbers as floats ("1" == "1.0" == 1), anything else as trimmed case-folded text.

    A label column holds a handful of distinct values: each is canonicalised once, then looked up.
    """
    codes, distinct = pd.factorize(values)
    text = pd.Series(distinct, dtype=object).astype("string").str.strip().str.casefold()
    text = text.mask(text.eq(""))
    numbers = pd.to_numeric(text, errors="coerce")
    canonical = text.where(numbers.isna(), numbers.astype("float64").astype("string"))
    lookup = np.append(canonical.to_numpy(dtype=object, na_value=pd.NA), pd.NA)  # code -1: NA
    return pd.Series(lookup[codes], index=values.index, dtype="string", name=values.name)


def _canonical(label: Any) -> str:
    return canonical_labels(pd.Series([label])).iloc[0]


def positive_mask(values: pd.Series, positive_label: Any) -> pd.Series:
    """True where the label is `positive_label` (in canonical form); missing stays missing."""
    labels = canonical_labels(values)
    return labels.eq(_canonical(positive_label)).astype("boolean").mask(labels.isna())


def target_classes(
    values: pd.Series, positive_label: Any, negative_label: Any, source: str
) -> tuple[str, str]:
    """The target's two classes in canonical form: (positive, negative).

    The negative class is `leads.negative_label`, or, when that is null, the most frequent value
    other than the positive label. Rows with any third value are quarantined by the contract; a
    target without both classes is a file-level error, since a model trained on the wrong notion
    of "genuine" is worse than no model.
    """
    counts = canonical_labels(values).value_counts()
    counts = counts.iloc[
        sorted(range(len(counts)), key=lambda i: (-counts.iloc[i], counts.index[i]))
    ]
    positive = _canonical(positive_label)
    others = [label for label in counts.index if label != positive]
    negative = (
        _canonical(negative_label) if negative_label is not None else next(iter(others), None)
    )
    if positive not in counts.index or negative not in others:
        shown = [str(v) for v in counts.index[:6]] + (["…"] if len(counts) > 6 else [])
        wanted = (
            "`leads.negative_label` = " + repr(negative_label)
            if negative_label is not None
            else "one other value"
        )
        raise InputError(
            f"{source}: target column {values.name!r} must hold two classes, "
            f"`leads.positive_label` = {positive_label!r} and {wanted}; found {len(counts)}: "
            f"{shown}. Fix `leads.target`/`leads.positive_label`/`leads.negative_label` in "
            "config.yaml or the file."
        )
    return positive, negative


def encode_target(values: pd.Series, classes: tuple[str, str]) -> pd.Series:
    """1 for the positive class, 0 for the negative one, missing for anything else."""
    labels = canonical_labels(values)
    encoded = pd.Series(pd.NA, index=values.index, dtype="Int8", name=values.name)
    encoded[labels.eq(classes[0]).fillna(False)] = 1
    encoded[labels.eq(classes[1]).fillna(False)] = 0
    return encoded


def _one_of(values: pd.Series, classes: tuple[str, str]) -> pd.Series:
    """One of the classes, or missing (the missing-target rule reports those)."""
    labels = canonical_labels(values)
    return labels.isin(classes) | labels.isna()


def _zero_one_or_missing(numbers: pd.DataFrame) -> pd.DataFrame:
    """0 or 1, or missing (a blank or unreadable number breaks another rule)."""
    return numbers.isin([0, 1]) | numbers.isna()


def lead_contract(roles: ColumnRoles, classes: tuple[str, str] | None = None) -> list[Rule]:
    """The row-level contract of a raw lead table, derived from the column roles.

    Each rule's reason is the quarantine reason of the rows that fail it. With `classes` (a
    training table) the target must be one of them; without (a batch to score) it is not needed.
    Types are checked as "parses as": numbers, timestamps; counts are >= 0, flags are 0 or 1,
    ids are present and unique.
    """
    contract: list[Rule] = []
    if roles.id:
        contract += rule(f"missing {COLUMN}", [roles.id], lambda c: ~c.blank, ignore_na=False)
        contract += rule(
            f"{COLUMN} repeated with different content",
            [roles.id],
            lambda c: ~each_column(lambda s: s.duplicated(keep=False), c.raw),
        )
    # the number rules share one block: its numbers are parsed once
    numbers = roles.numeric_inputs
    counts = [c for c in numbers if c in roles.count_columns]
    flags = [c for c in numbers if c in roles.flags]
    contract += rule(f"non-numeric {COLUMN}", numbers, lambda c: c.numbers.notna() | c.blank)
    contract += rule(f"non-finite {COLUMN}", numbers, lambda c: finite(c.numbers))
    if counts:
        contract += rule(
            f"negative {COLUMN}", numbers, lambda c: ~select_columns(c.numbers, counts).lt(0)
        )
    if flags:
        contract += rule(
            f"{COLUMN} not 0 or 1",
            numbers,
            lambda c: _zero_one_or_missing(select_columns(c.numbers, flags)),
        )
    if roles.timestamp:
        contract += rule(
            f"missing or unparseable {COLUMN}",
            [roles.timestamp],
            lambda c: each_column(parse_timestamps, c.raw).notna(),
            ignore_na=False,
        )
    if classes is not None:
        contract += rule(
            f"missing target {COLUMN}",
            [roles.target],
            lambda c: each_column(canonical_labels, c.raw).notna(),
            ignore_na=False,
        )
        contract += rule(
            f"target {COLUMN} not one of the two classes {list(classes)}",
            [roles.target],
            lambda c: each_column(lambda s: _one_of(s, classes), c.raw),
        )
    return contract


def raw_records(df: pd.DataFrame, roles: ColumnRoles) -> pd.DataFrame:
    """Model inputs as they arrive in a CRM export: timestamps as ISO text, numbers as floats."""
    records = df[roles.model_inputs].copy()
    for column in roles.numeric_inputs:
        records[column] = records[column].astype("float64")
    for column in roles.categorical:
        records[column] = records[column].astype(object).where(records[column].notna(), None)
    if roles.timestamp:
        stamp = pd.to_datetime(records[roles.timestamp])
        records[roles.timestamp] = stamp.dt.strftime("%Y-%m-%d %H:%M:%S").astype(object)
    return records

"""Column roles: which column of a lead table plays which part, read from `params.yaml` `data:`.

Nothing downstream names a column of the default dataset; everything asks the roles. That is what
lets a team point leadsift at its own CRM export by editing params only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from leadsift.io import InputError, read_table

ROW_ID = "row_number"  # identifier made from the raw file's row number when `data.id` is null


@dataclass(frozen=True)
class ColumnRoles:
    target: str
    positive_label: Any
    categorical: tuple[str, ...]
    numeric: tuple[str, ...] = ()
    interaction_groups: dict[str, tuple[str, ...]] = field(default_factory=dict)
    non_negative: tuple[str, ...] = ()
    id: str | None = None
    timestamp: str | None = None

    @classmethod
    def from_params(cls, data: dict[str, Any]) -> ColumnRoles:
        """Build roles from the `data:` section, rejecting inconsistent declarations."""
        for key in ("target", "positive_label"):
            if data.get(key) is None:
                raise InputError(f"params.yaml: `data.{key}` is required")
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
            id=data.get("id") or None,
            timestamp=data.get("timestamp") or None,
        )
        roles._check()
        return roles

    def _check(self) -> None:
        declared = [*self.categorical, *self.numeric, *self.interactions]
        seen: set[str] = set()
        for column in declared:
            if column in seen:
                raise InputError(
                    f"params.yaml: column {column!r} is declared twice across "
                    "`data.categorical`, `data.numeric` and `data.interaction_groups`"
                )
            seen.add(column)
        if not declared:
            raise InputError(
                "params.yaml: declare at least one feature column in `data.categorical`,"
                " `data.numeric` or `data.interaction_groups`"
            )
        special = {self.target, self.id, self.timestamp} - {None}
        if clash := special & seen:
            raise InputError(
                f"params.yaml: {sorted(clash)} is the target, id or timestamp and cannot also be a "
                "feature column in `data:`"
            )
        if stray := set(self.non_negative) - set(self.numeric):
            raise InputError(
                f"params.yaml: `data.non_negative` lists {sorted(stray)}, not in `data.numeric`"
            )

    def key_of(self, column: str) -> str:
        """The params.yaml key that declares `column`, for error messages."""
        singles = {self.id: "data.id", self.timestamp: "data.timestamp", self.target: "data.target"}
        if column in singles:
            return singles[column]
        for key in ("categorical", "numeric"):
            if column in getattr(self, key):
                return f"data.{key}"
        group = next(g for g, cols in self.interaction_groups.items() if column in cols)
        return f"data.interaction_groups.{group}"

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
    def required(self) -> list[str]:
        """Columns a training table must have: the id if declared, model inputs, the target."""
        ident = [self.id] if self.id else []
        return [*ident, *self.model_inputs, self.target]


def load_raw_table(
    path: str | Path, roles: ColumnRoles, key: str, *, labelled: bool = True
) -> pd.DataFrame:
    """Read a raw lead table, its categorical, id, timestamp and target columns as text, and check
    that every declared column is there (the target only when `labelled`)."""
    text = [*roles.categorical, *[c for c in (roles.id, roles.timestamp) if c]]
    text += [roles.target] if labelled else []
    raw = read_table(path, key, dtype=dict.fromkeys(text, "str"))
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
    shown = ", ".join(f"{c!r} ({roles.key_of(c)})" for c in missing[:6])
    more = f" and {len(missing) - 6} more" if len(missing) > 6 else ""
    have = ", ".join(map(str, df.columns[:12])) + (" …" if len(df.columns) > 12 else "")
    raise InputError(
        f"{source}: missing column(s) {shown}{more} declared in params.yaml; the file has: {have}. "
        "Rename the columns in params.yaml `data:` or in the file."
    )


def _canonical_labels(values: pd.Series) -> pd.Series:
    """Numbers as floats ("1" == "1.0" == 1), anything else as trimmed case-folded text."""
    text = values.astype("string").str.strip().str.casefold()
    numbers = pd.to_numeric(text, errors="coerce")
    return text.where(numbers.isna(), numbers.astype("float64").astype("string"))


def encode_target(values: pd.Series, positive_label: Any, source: str) -> pd.Series:
    """Map the target to 1 (positive label) / 0 (the other class); missing stays missing.

    The target must hold exactly two classes; anything else is a file-level error, because a model
    trained on the wrong notion of "genuine" is worse than no model.
    """
    labels = _canonical_labels(values)
    positive = _canonical_labels(pd.Series([positive_label])).iloc[0]
    classes = sorted(labels.dropna().unique())
    is_positive = (labels == positive).fillna(False)
    if len(classes) != 2 or not is_positive.any():
        shown = classes[:6] + (["…"] if len(classes) > 6 else [])
        raise InputError(
            f"{source}: target column {values.name!r} must hold exactly two classes including "
            f"`data.positive_label` = {positive_label!r}; found {len(classes)}: {shown}. "
            "Fix `data.target`/`data.positive_label` in params.yaml or the file."
        )
    encoded = is_positive.astype("Int8")
    encoded[values.isna()] = pd.NA
    return encoded

"""Normalising raw lead records and separating clean rows from duplicates and impossible rows.

`normalize_leads` is stateless and is used twice: by the `prepare` stage on the training export and,
wrapped as `LeadNormalizer`, as the first step of the saved model, so that scoring and serving
apply exactly the same cleaning to raw records as training did.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from functools import partial
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

from leadsift.core.contract import (
    Cleaned,
    contract_violations,
    distinct_values,
    duplicate_rows,
    groupable,
    levels_dtype,
    parse_numbers,
    select_columns,
    text_columns,
)
from leadsift.core.io import InputError
from leadsift.leads.schema import (
    ROW_ID,
    ColumnRoles,
    encode_target,
    lead_contract,
    parse_timestamps,
    target_classes,
)


def normalize_text(
    values: pd.Series,
    missing_values: Sequence[str],
    aliases: Mapping[str, str],
    as_categories: bool = False,
) -> pd.Series:
    """Trim, collapse whitespace, lower-case; placeholders become missing; then apply aliases.

    Each distinct value is worked out once, in plain Python: a batch repeats a few hundred levels,
    and one served lead then costs microseconds instead of a dozen pandas calls. Text (None where
    missing), or with `as_categories` a pandas categorical of the same levels, whose codes the
    model's next steps read instead of grouping the texts again.
    """
    level = partial(
        normalize_level,
        placeholders=frozenset(str(v).strip().lower() for v in missing_values),
        aliases={str(k).lower(): str(v).lower() for k, v in aliases.items()},
    )
    codes, distinct = distinct_values(groupable(values))
    texts = np.array([level(v) for v in distinct], dtype=object)
    if not as_categories:
        return pd.Series(texts[codes], index=values.index, dtype=object)
    # the distinct normalised levels (missing: -1), and each value's code among them
    level_codes, levels = pd.factorize(texts)
    return pd.Series(
        pd.Categorical.from_codes(level_codes[codes], dtype=levels_dtype(*levels), validate=False),
        index=values.index,
    )


def normalize_level(
    value: Any, placeholders: Collection[str], aliases: Mapping[str, str]
) -> str | None:
    """One level as text: trimmed, each run of whitespace one space (what Python's `str.split`
    splits on), lower case; blank or a placeholder is missing (None); an alias its canonical."""
    if pd.isna(value):
        return None
    text = " ".join(str(value).split()).lower()
    if not text or text in placeholders:
        return None
    return aliases.get(text, text)


def normalize_categorical(
    frame: pd.DataFrame,
    missing_values: Sequence[str],
    aliases: Mapping[str, Mapping[str, str]],
    as_categories: bool = False,
) -> dict[str, pd.Series]:
    """`normalize_text` of each column, with that column's aliases."""
    return {
        column: normalize_text(
            frame[column], missing_values, aliases.get(column, {}), as_categories
        )
        for column in frame.columns
    }


def cleaning_options(params: Mapping[str, Any]) -> dict[str, Any]:
    """The `leads_prepare:` settings (config.yaml) as the `missing_values` and `aliases` keyword
    arguments of `normalize_leads`, `clean_leads` and `models.build_pipeline`."""
    settings = params["leads_prepare"]
    return {"missing_values": settings["missing_values"], "aliases": settings["aliases"] or {}}


def normalize_leads(
    df: pd.DataFrame,
    *,
    categorical: Sequence[str],
    numeric: Sequence[str],
    timestamp: str | None,
    missing_values: Sequence[str],
    aliases: Mapping[str, Mapping[str, str]],
    as_categories: bool = False,
) -> pd.DataFrame:
    """Return a copy with canonical categoricals, numeric numbers and parsed timestamps; the
    categorical columns as text, or with `as_categories` as pandas categoricals."""
    out = df.copy(deep=False)  # copy-on-write: the columns replaced below are new, others shared
    for column, text in normalize_categorical(
        select_columns(df, categorical), missing_values, aliases, as_categories
    ).items():
        out[column] = text
    # only the columns that are text, parsed in one pass and assigned at once (each assignment
    # costs even a one-row call)
    if text := text_columns(df, numeric):
        out[text] = parse_numbers(select_columns(df, text))
    if timestamp:
        out[timestamp] = parse_timestamps(out[timestamp])
    return out


class LeadNormalizer(TransformerMixin, BaseEstimator):
    """Stateless model step: `normalize_leads` on raw records (fitting learns nothing). Its
    categorical columns are pandas categoricals: the collapser after it reads their codes."""

    def __init__(
        self,
        categorical: Sequence[str] = (),
        numeric: Sequence[str] = (),
        timestamp: str | None = None,
        missing_values: Sequence[str] = (),
        aliases: Mapping[str, Mapping[str, str]] | None = None,
    ) -> None:
        self.categorical = categorical
        self.numeric = numeric
        self.timestamp = timestamp
        self.missing_values = missing_values
        self.aliases = aliases

    def fit(self, X: pd.DataFrame, y: object = None) -> LeadNormalizer:  # noqa: N803
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.n_features_in_ = X.shape[1]
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:  # noqa: N803
        missing = [c for c in self.feature_names_in_ if c not in X.columns]
        if missing:
            raise ValueError(f"lead records lack column(s) {missing}")
        return normalize_leads(
            select_columns(X, self.feature_names_in_),
            categorical=self.categorical,
            numeric=self.numeric,
            timestamp=self.timestamp,
            missing_values=self.missing_values,
            aliases=self.aliases or {},
            as_categories=True,
        )

    def get_feature_names_out(self, input_features: object = None) -> np.ndarray:
        return self.feature_names_in_


def clean_leads(
    raw: pd.DataFrame,
    roles: ColumnRoles,
    *,
    missing_values: Sequence[str],
    aliases: Mapping[str, Mapping[str, str]],
    source: str,
    labelled: bool = True,
) -> Cleaned:
    """Normalise, drop exact duplicates and quarantine the rows that break the contract
    (`schema.lead_contract`); every row is accounted for.

    Returns the clean rows (target encoded 0/1 when `labelled`; an incoming batch to score has no
    target), the quarantined rows with a `reason` column, and the counts, for which
    `rows_in == rows_clean + rows_duplicate + rows_quarantined` holds.
    """
    raw = numbered(raw, roles)
    classes = None
    if labelled:
        classes = target_classes(
            raw[roles.target], roles.positive_label, roles.negative_label, source
        )
    rows = normalized_rows(
        raw, roles, missing_values=missing_values, aliases=aliases, classes=classes
    )
    return separate_rows(raw, rows, roles, source=source, classes=classes)[0]


def numbered(raw: pd.DataFrame, roles: ColumnRoles) -> pd.DataFrame:
    """`raw` with its row numbers (from 1) as the id column when `leads.id` is null."""
    return raw if roles.id is not None else raw.assign(**{ROW_ID: np.arange(1, len(raw) + 1)})


def normalized_rows(
    raw: pd.DataFrame,
    roles: ColumnRoles,
    *,
    missing_values: Sequence[str],
    aliases: Mapping[str, Mapping[str, str]],
    classes: tuple[str, str] | None = None,
) -> pd.DataFrame:
    """Every row of `raw` (`numbered`) normalised (`normalize_leads`) in the clean table's
    columns, its target encoded 0/1 by its `classes` (`target_classes`) where it has one: the
    first half of `clean_leads`, before any row is dropped."""
    df = normalize_leads(
        raw,
        categorical=roles.categorical,
        numeric=roles.numeric_inputs,
        timestamp=roles.timestamp,
        missing_values=missing_values,
        aliases=aliases,
    )
    target = [] if classes is None else [roles.target]
    if classes is not None:
        df[roles.target] = encode_target(raw[roles.target], classes)
    return select_columns(df, [roles.id_column, *roles.model_inputs, *target])


def separate_rows(
    raw: pd.DataFrame,
    rows: pd.DataFrame,
    roles: ColumnRoles,
    *,
    source: str,
    classes: tuple[str, str] | None = None,
) -> tuple[Cleaned, np.ndarray]:
    """The second half of `clean_leads`: of the `normalized_rows` of `raw` (`numbered`, with the
    target's `classes` where it has one), drop the exact duplicates and quarantine the rows that
    break the contract. Also returns the positions of the clean rows among `rows`."""
    target = [] if classes is None else [roles.target]
    duplicate = duplicate_rows(rows.drop(columns=ROW_ID, errors="ignore"), key=roles.id)
    kept = np.flatnonzero(~duplicate)
    # The contract checks the batch in place (selecting the kept rows copied all of it), with the
    # creation time normalising parsed, which it then skips. The copies' ids are blanked, so the
    # id rule sees each row once (ids must be unique), and the copies' own reasons are not read.
    checked = {roles.timestamp: rows[roles.timestamp]} if roles.timestamp else {}
    if roles.id and duplicate.any():
        checked[roles.id] = raw[roles.id].mask(duplicate)
    reasons = contract_violations(lead_contract(roles, classes), raw.assign(**checked)).iloc[kept]
    failed = reasons.notna().to_numpy()
    bad = np.zeros(len(raw), dtype=bool)
    bad[kept[failed]] = True
    quarantine = raw[bad].assign(reason=reasons[failed].set_axis(raw.index[bad]))
    positions = np.flatnonzero(~(duplicate | bad))
    # one selection of the clean rows: each costs a copy of the batch
    clean = rows.take(positions).astype(dict.fromkeys(target, "int64")).reset_index(drop=True)
    counts = {
        "rows_in": len(raw),
        "rows_clean": len(clean),
        "rows_duplicate": int(duplicate.sum()),
        "rows_quarantined": int(bad.sum()),
    }
    if clean.empty:
        common = reasons[failed].str.split("; ").explode().value_counts().head(3)
        listed = ", ".join(f"{reason} ({n})" for reason, n in common.items())
        raise InputError(
            f"{source}: all {len(kept)} rows are quarantined (most common: {listed}); "
            "check the column roles in config.yaml `leads:` against the file"
        )
    cleaned = Cleaned(clean=clean, quarantine=quarantine.reset_index(drop=True), counts=counts)
    return cleaned, positions

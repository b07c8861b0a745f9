"""Segments for later months: each month's export is cleaned like the history (its cancellations
may match earlier purchases), appended to what came before, and every customer who bought by the
month's end gets the segment the saved model gives its summary as of then."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from leadsift.customers.cleaning import clean_transactions
from leadsift.customers.features import as_of_date, customer_features
from leadsift.customers.schema import TransactionRoles, load_transactions
from leadsift.customers.segmentation import Segmenter


@dataclass(frozen=True)
class Month:
    name: str  # the file's stem, e.g. 2026-01
    as_of: pd.Timestamp
    customers: pd.DataFrame  # features as of `as_of`, with `segment` and `name`
    quarantine: pd.DataFrame
    counts: dict[str, int]


def assign_months(
    files: list[Path],
    history: pd.DataFrame,
    roles: TransactionRoles,
    model: Segmenter,
    names: Mapping[int, str],
) -> Iterator[Month]:
    """Each month's segments, in file order (named by period, that is time order)."""
    lines = history
    for path in files:
        raw = load_transactions(path, roles, "transactions.incoming")
        result = clean_transactions(raw, roles, source=str(path), history=lines)
        lines = pd.concat([lines, result.clean], ignore_index=True)
        as_of = as_of_date(lines, None)
        customers = customer_features(lines, as_of)
        segments = model.predict(customers)
        labelled = customers.assign(segment=segments, name=[names[int(s)] for s in segments])
        counts = {
            **result.counts,
            "customers_assigned": len(customers),
            "customers_active_this_month": int(result.clean["customer_id"].nunique()),
        }
        yield Month(path.stem, as_of, labelled, result.quarantine, counts)


def segment_counts(segments: pd.Series, n_segments: int) -> dict[str, int]:
    """How many customers each segment holds, every segment named (also the empty ones)."""
    counts = np.bincount(segments.to_numpy(dtype=int), minlength=n_segments + 1)[1:]
    return {str(i + 1): int(c) for i, c in enumerate(counts)}

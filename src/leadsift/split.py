"""Train / validation / test splits.

A time-ordered split (train earliest, test latest) is the default because a lead model is always
used on leads that arrive after it was trained; a random split would flatter it. A stratified
random split is used when asked for, or when the data has no timestamp.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd
from sklearn.model_selection import train_test_split

from leadsift.io import InputError

SPLITS = ("train", "validation", "test")
METHODS = ("time", "stratified")


def check_fractions(fractions: Mapping[str, float]) -> dict[str, float]:
    if set(fractions) != set(SPLITS):
        raise InputError(
            f"params.yaml: `split.fractions` needs exactly {list(SPLITS)}, got {sorted(fractions)}"
        )
    if any(not 0 < float(fractions[s]) < 1 for s in SPLITS):
        raise InputError(
            f"params.yaml: each of `split.fractions` must be in (0, 1), got {dict(fractions)}"
        )
    total = sum(float(fractions[s]) for s in SPLITS)
    if abs(total - 1.0) > 1e-9:
        raise InputError(f"params.yaml: `split.fractions` must sum to 1, they sum to {total:g}")
    return {s: float(fractions[s]) for s in SPLITS}


def split_leads(
    df: pd.DataFrame,
    *,
    method: str,
    fractions: Mapping[str, float],
    target: str,
    id_column: str,
    timestamp: str | None,
    seed: int,
) -> tuple[dict[str, pd.DataFrame], str]:
    """Split rows into train/validation/test; return the parts and the method actually used."""
    if method not in METHODS:
        raise InputError(
            f"params.yaml: `split.method` must be one of {list(METHODS)}, got {method!r}"
        )
    shares = check_fractions(fractions)
    n = len(df)
    if method == "time" and timestamp:
        ordered = df.sort_values([timestamp, id_column], kind="stable").reset_index(drop=True)
        first = round(n * shares["train"])
        second = round(n * (shares["train"] + shares["validation"]))
        parts = {
            "train": ordered[:first],
            "validation": ordered[first:second],
            "test": ordered[second:],
        }
        used = "time"
    else:
        rest, test = train_test_split(
            df, test_size=shares["test"], stratify=df[target], random_state=seed
        )
        train, validation = train_test_split(
            rest,
            test_size=shares["validation"] / (shares["train"] + shares["validation"]),
            stratify=rest[target],
            random_state=seed,
        )
        parts = {"train": train, "validation": validation, "test": test}
        used = "stratified"
    for name, part in parts.items():
        if part[target].nunique() < 2:
            raise InputError(
                f"split {name!r} has {len(part)} rows and only one target class; "
                "use more data or change `split.fractions`/`split.method` in params.yaml"
            )
    return {name: part.reset_index(drop=True) for name, part in parts.items()}, used


def describe_splits(parts: Mapping[str, pd.DataFrame], target: str, timestamp: str | None) -> dict:
    """Rows, genuine rate and (if timed) period of each split, for reports/split.json."""
    summary = {}
    for name, part in parts.items():
        entry = {"rows": len(part), "genuine_rate": float(part[target].mean())}
        if timestamp:
            entry["first"] = str(part[timestamp].min())
            entry["last"] = str(part[timestamp].max())
        summary[name] = entry
    return summary

"""Train / validation / test splits.

A time-ordered split (train earliest, test latest) is the default because a lead model is always
used on leads that arrive after it was trained; a random split would flatter it. A stratified
random split is used when asked for, or when the data has no timestamp.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd
from sklearn.model_selection import train_test_split

from leadsift.core.io import InputError


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
    """Split rows into train/validation/test; return the parts and the method actually used.

    `method` is "time" or "stratified" and `fractions` sum to 1 (checked by `config.load_params`).
    """
    shares = {name: float(share) for name, share in fractions.items()}
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

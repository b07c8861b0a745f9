import numpy as np
import pandas as pd
import pytest

from leadsift.leads.split import split_leads

FRACTIONS = {"train": 0.7, "validation": 0.15, "test": 0.15}
COLUMNS = {"fractions": FRACTIONS, "target": "y", "id_column": "id", "timestamp": "at"}


def frame(n=1000):
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "id": np.arange(n),
            "at": pd.Timestamp("2025-01-01") + pd.to_timedelta(rng.permutation(n), unit="h"),
            "y": rng.integers(0, 2, n),
        }
    )


def test_time_split_puts_the_latest_leads_in_test():
    parts, method = split_leads(frame(), method="time", seed=0, **COLUMNS)
    assert method == "time"
    assert [len(p) for p in parts.values()] == [700, 150, 150]
    assert parts["train"]["at"].max() < parts["validation"]["at"].min()
    assert parts["validation"]["at"].max() < parts["test"]["at"].min()


def test_stratified_split_without_timestamp_keeps_the_rate_and_is_seeded():
    df = frame()
    parts, method = split_leads(df, method="time", seed=3, **{**COLUMNS, "timestamp": None})
    again, _ = split_leads(df, method="stratified", seed=3, **{**COLUMNS, "timestamp": None})
    assert method == "stratified"
    for name, part in parts.items():
        pd.testing.assert_frame_equal(part, again[name])
        assert part["y"].mean() == pytest.approx(df["y"].mean(), abs=0.02)
    assert sum(len(p) for p in parts.values()) == len(df)
    assert set(pd.concat(parts.values())["id"]) == set(df["id"])

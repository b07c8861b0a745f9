"""Shared fixtures: the project's params and small generated lead tables."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

from leadsift.cleaning import clean_leads
from leadsift.schema import ColumnRoles
from leadsift.synth import Dirt, generate_leads

ROOT = Path(__file__).resolve().parents[1]
WORLD_7 = {"start": "2025-01-01", "days": 365, "genuine_rate": 0.3, "world_seed": 7}


@pytest.fixture(scope="session")
def params() -> dict:
    return yaml.safe_load((ROOT / "params.yaml").read_text())


@pytest.fixture(scope="session")
def roles(params: dict) -> ColumnRoles:
    return ColumnRoles.from_params(params["data"])


@pytest.fixture(scope="session")
def cleaning(params: dict) -> dict:
    """The `prepare:` settings as keyword arguments of the cleaning and model functions."""
    return {
        "missing_values": params["prepare"]["missing_values"],
        "aliases": params["prepare"]["aliases"],
    }


@pytest.fixture(scope="session")
def leads() -> tuple[pd.DataFrame, pd.DataFrame]:
    """A small dirty export and its truth, drawn once per session."""
    return generate_leads(5000, **WORLD_7, sample_seed=1, dirt=Dirt())


@pytest.fixture(scope="session")
def leads_without_dirt() -> tuple[pd.DataFrame, pd.DataFrame]:
    """The same leads without dirt."""
    zero = Dirt(**dict.fromkeys(Dirt.__dataclass_fields__, 0.0))
    return generate_leads(5000, **WORLD_7, sample_seed=1, dirt=zero)


@pytest.fixture(scope="session")
def prepared(leads, roles: ColumnRoles, cleaning: dict) -> pd.DataFrame:
    """The dirty leads after `prepare`: normalised, deduplicated, impossible rows removed."""
    return clean_leads(leads[0], roles, source="leads.csv", **cleaning).clean

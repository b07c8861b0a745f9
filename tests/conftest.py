"""Shared fixtures: the project's params and small generated lead tables."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from threadpoolctl import threadpool_limits

from leadsift.core.config import read_params
from leadsift.core.model_store import save_model
from leadsift.customers import synth as customers_synth
from leadsift.customers.cleaning import clean_transactions
from leadsift.customers.features import as_of_date, customer_features
from leadsift.customers.schema import TransactionRoles
from leadsift.customers.segmentation import Segmenter
from leadsift.customers.synth_market import MarketSetup
from leadsift.customers.synth_world import Segment
from leadsift.leads.cleaning import clean_leads, cleaning_options
from leadsift.leads.metrics import Tiers
from leadsift.leads.models import TRUSTED_TYPES, build_pipeline
from leadsift.leads.sales import SalesScorer, save_sales_model
from leadsift.leads.schema import ColumnRoles, raw_records
from leadsift.leads.synth import Dirt, generate_leads
from tests.repo import Repo

ROOT = Path(__file__).resolve().parents[1]
WORLD_7 = {"start": "2025-01-01", "days": 365, "genuine_rate": 0.3, "world_seed": 7}


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--leads-one-at-a-time",
        type=int,
        default=1_000,
        help="dirty leads the one-at-a-time identity test sends (default 1,000, the suite's "
        "share of its time budget; `make test-identity` sends 10,000)",
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """End-to-end tests first. Under `make test` each worker takes whole files in collection
    order (`--no-loadscope-reorder`): the files that build pipelines, minutes each, start at once
    on both workers, and the quick unit files fill in after them, rather than one long build
    running alone at the end."""
    items.sort(key=lambda item: item.get_closest_marker("e2e") is None)


@pytest.fixture(scope="session", autouse=True)
def one_thread_per_worker(worker_id: str):
    """Under `make test` two workers share two cores: each computes on one thread (OpenMP, BLAS),
    so the workers' thread pools do not spin against each other. Alone, a run keeps all cores."""
    if worker_id == "master":
        yield
        return
    with threadpool_limits(1):
        yield


@pytest.fixture(scope="session")
def params() -> dict:
    return read_params(ROOT)


@pytest.fixture(scope="session")
def roles(params: dict) -> ColumnRoles:
    return ColumnRoles.from_params(params["leads"])


@pytest.fixture(scope="session")
def cleaning(params: dict) -> dict:
    """The `prepare:` settings as keyword arguments of the cleaning and model functions."""
    return cleaning_options(params)


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


LIGHTGBM = {"n_estimators": 40, "deterministic": True, "force_col_wise": True, "verbose": -1}


@pytest.fixture(scope="session")
def fit_model(roles: ColumnRoles, cleaning: dict):
    """Fit a family's whole pipeline on prepared leads (optionally with other labels)."""

    def fit(
        train: pd.DataFrame,
        *,
        family="hist_gradient_boosting",
        hyperparams=None,
        y=None,
        roles: ColumnRoles = roles,
    ):
        pipeline = build_pipeline(
            roles,
            **cleaning,
            family=family,
            hyperparams=hyperparams or {},
            coverage=0.9,
            max_levels=100,
            seed=0,
        )
        return pipeline.fit(raw_records(train, roles), train[roles.target] if y is None else y)

    return fit


@pytest.fixture(scope="session")
def saved_model(prepared, roles, fit_model, tmp_path_factory) -> tuple[object, Path]:
    """A small fitted pipeline of the default family and its saved MLflow model directory, for
    scoring and serving."""
    pipeline = fit_model(prepared, family="lightgbm", hyperparams=LIGHTGBM)
    path = tmp_path_factory.mktemp("saved") / "model"
    save_model(pipeline, path, raw_records(prepared, roles).head(5), TRUSTED_TYPES)
    return pipeline, path


TIERS = Tiers(cold_below=0.2, hot_from=0.6, names={"hot": "A", "warm": "B", "cold": "C"})


@pytest.fixture(scope="session")
def saved_sales(saved_model, prepared, roles, tmp_path_factory) -> tuple[SalesScorer, Path]:
    """The sales model of `saved_model`'s pipeline (tiers `TIERS`) and its saved directory, as
    the package stage writes it."""
    scorer = SalesScorer.package(saved_model[0], TIERS, roles)
    path = tmp_path_factory.mktemp("sales") / "sales"
    example = raw_records(prepared, roles).head(5)
    save_sales_model(scorer, path, example)
    return scorer, path


def shop(n: int = 2000, seed: int = 1) -> customers_synth.Transactions:
    """The embedded shop with the project's world, at `n` customers and two later months."""
    settings = read_params(ROOT)["generate_transactions_setup"]
    segments = {
        name: Segment.from_params(name, entry) for name, entry in settings["segments"].items()
    }
    return customers_synth.generate_transactions(
        n,
        start=settings["start"],
        months=settings["months"],
        future_months=2,
        recent_months=settings["recent_months"],
        mix_concentration=settings["mix_concentration"],
        segments=segments,
        world_seed=settings["world_seed"],
        sample_seed=seed,
        dirt=customers_synth.Dirt(**settings["dirt"]),
        market=MarketSetup(**settings["market"]),
    )


@pytest.fixture(scope="session")
def small() -> customers_synth.Transactions:
    return shop()


@pytest.fixture(scope="session")
def cleaned(small):
    roles = TransactionRoles.from_params(read_params(ROOT)["transactions"])
    raw = small.export.astype(str).replace({"": None})
    return clean_transactions(raw, roles, source="shop")


@pytest.fixture(scope="session")
def customers(cleaned) -> pd.DataFrame:
    """The shop's customer summaries, as customers_features makes them."""
    return customer_features(cleaned.clean, as_of_date(cleaned.clean, None))


@pytest.fixture(scope="session")
def fit_segments(customers) -> tuple[Segmenter, pd.DataFrame]:
    """A segmentation fitted on the shop's customers, with those customers."""
    features = read_params(ROOT)["segment_setup"]["features"]
    return Segmenter(features=features, n_segments=4, seed=0).fit(customers), customers


@dataclass(frozen=True)
class Built:
    """A repository after its first `dvc repro`: which stages ran and the outputs' hashes."""

    repo: Repo
    ran: list[str]
    outs: dict[str, str]


@pytest.fixture(scope="session")
def baseline(tmp_path_factory) -> Built:
    """The project with small settings, built once by the real `dvc repro` and committed.

    Tests that change it work on `Repo.copy_of(baseline.repo, ...)`.
    """
    repo = Repo(tmp_path_factory.mktemp("baseline") / "repo")
    ran = repo.repro()
    outs = repo.lock_outs()
    repo.commit("baseline results")
    return Built(repo, ran, outs)

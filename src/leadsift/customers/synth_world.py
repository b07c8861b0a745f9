"""The embedded shop's world: its catalogue, its calendar with one seasonality, and the latent
segments its customers belong to. The generator (`synth`) draws customers and their purchases
from it; the Bayes truth (`synth_truth`) conditions on the same world.

Each customer belongs to one latent segment (`Segment`), which sets when it first buys, how often
it buys while active (a gamma-distributed rate, so customers of a segment differ), how long it
stays active (an exponential lifetime), how many lines an order has, what it buys (a category mix
of the catalogue), how many units per line, and how often it cancels. Purchase rates follow one
calendar seasonality shared by every segment (January and September peaks); first purchases grow
over the history (`acquired`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields

import numpy as np
import pandas as pd

from leadsift.core.io import InputError

DAYS_PER_MONTH = 365.25 / 12
CATEGORIES = ("program", "course", "addon", "subscription", "book")
# category: (products, code prefix, lowest and highest price)
CATALOGUE = {
    "program": (12, "PRG", (450.0, 1500.0)),
    "course": (40, "CRS", (60.0, 250.0)),
    "addon": (30, "ADD", (15.0, 90.0)),
    "subscription": (4, "SUB", (19.0, 39.0)),
    "book": (40, "BK", (8.0, 45.0)),
}
# Purchase-rate multiplier per calendar month, January first: new-year and back-to-school peaks.
SEASON = np.array([1.35, 1.1, 1.0, 0.95, 0.9, 0.8, 0.75, 0.85, 1.3, 1.1, 1.0, 0.9])
GROWTH = 1.5  # first purchases at the end of the history are 1 + GROWTH times those at its start
CANCEL_DELAY_DAYS = (
    1.0,
    14.0,
)  # a cancellation follows its order by this many days (uniform)


@dataclass(frozen=True)
class Segment:
    """How the customers of one latent segment behave."""

    share: float  # of the customers who first buy before as_of
    recent: bool  # first buy only in the last `recent_months` before as_of (new customers)
    rate: float  # mean repeat orders per month while active
    rate_shape: float  # gamma shape of the rate across customers: higher, more alike
    lifetime: float  # mean active months (exponential)
    lines: float  # extra lines per order (Poisson)
    mix: tuple[float, ...]  # category shares of a line, in CATEGORIES order
    quantity: float  # extra units per line (Poisson)
    cancel: float  # share of orders later cancelled

    @classmethod
    def from_params(cls, name: str, entry: Mapping) -> Segment:
        """A segment from config.yaml `generate_transactions.segments.<name>`, checked."""
        key = f"config.yaml: `generate_transactions.segments.{name}`"
        names = [f.name for f in fields(cls)]
        if not isinstance(entry, Mapping) or set(entry) != set(names):
            raise InputError(f"{key} needs exactly the keys {names}")
        mix = entry["mix"]
        if not isinstance(mix, Mapping) or set(mix) != set(CATEGORIES):
            raise InputError(f"{key}.mix needs a share for each of {list(CATEGORIES)}")
        shares = [mix[c] for c in CATEGORIES]
        if (
            any(not isinstance(v, int | float) or v < 0 for v in shares)
            or abs(sum(shares) - 1) > 1e-6
        ):
            raise InputError(f"{key}.mix: shares must be >= 0 and sum to 1, got {shares}")
        numbers = [n for n in names if n not in ("recent", "mix")]
        if any(not isinstance(entry[n], int | float) or entry[n] < 0 for n in numbers):
            raise InputError(f"{key}: {numbers} must be numbers >= 0")
        if entry["share"] <= 0 or entry["rate_shape"] <= 0 or entry["lifetime"] <= 0:
            raise InputError(f"{key}: share, rate_shape and lifetime must be > 0")
        return cls(**{**entry, "recent": bool(entry["recent"]), "mix": tuple(map(float, shares))})


@dataclass(frozen=True)
class World:
    """The catalogue and the calendar purchases are drawn from; fixed by the world seed."""

    catalogue: pd.DataFrame  # code, description, category, price
    start: pd.Timestamp
    history_days: float  # as_of, in days from start
    edges: np.ndarray  # day boundaries of calendar months from start
    season: np.ndarray  # each month's rate multiplier

    def intensity(self, days: np.ndarray) -> np.ndarray:
        """Integral of the seasonal multiplier from day 0 to `days`, in months."""
        days = np.asarray(days, dtype=float)
        cumulative = np.concatenate([[0.0], np.cumsum(np.diff(self.edges) * self.season)])
        month = np.clip(
            np.searchsorted(self.edges, days, side="right") - 1, 0, len(self.season) - 1
        )
        return (
            cumulative[month] + (days - self.edges[month]) * self.season[month]
        ) / DAYS_PER_MONTH

    def multiplier(self, days: np.ndarray) -> np.ndarray:
        month = np.searchsorted(self.edges, days, side="right") - 1
        return self.season[np.clip(month, 0, len(self.season) - 1)]


def build_world(seed: int, start: str, months: int, future_months: int) -> World:
    """The catalogue (prices drawn with the world seed) and a calendar of `months` of history plus
    `future_months` after it (incoming batches, the forecast's truth)."""
    rng = np.random.default_rng([seed, 0])
    rows = []
    for category, (count, prefix, (low, high)) in CATALOGUE.items():
        prices = np.round(np.exp(rng.uniform(np.log(low), np.log(high), count))) - 0.01
        for i, price in enumerate(prices, start=1):
            rows.append((f"{prefix}{i:03d}", f"{category.title()} {i}", category, float(price)))
    catalogue = pd.DataFrame(rows, columns=["code", "description", "category", "price"])
    first = pd.Timestamp(start)
    history_days = float((first + pd.DateOffset(months=months) - first).days)
    edges, season = [0.0], []
    month = first.to_period("M")
    while len(season) < months + future_months:
        edges.append(float(((month + 1).start_time - first).days))
        season.append(SEASON[month.month - 1])
        month += 1
    return World(catalogue, first, history_days, np.array(edges), np.array(season))


@dataclass(frozen=True)
class Population:
    """Customers, their orders and order lines as drawn (before any dirt): the generative truth."""

    customers: pd.DataFrame  # segment (index into the segment list), birth, rate, death, country
    orders: pd.DataFrame  # customer, day, n_lines, cancelled, cancel_day
    lines: pd.DataFrame  # order, product (catalogue row), quantity


def mix_alpha(segments: list[Segment], concentration: float) -> np.ndarray:
    """Dirichlet parameters of customers' product mixes, one row per segment: `concentration`
    times the segment's mix (higher, customers of a segment buy more alike)."""
    return concentration * np.array([s.mix for s in segments]) + 1e-3


def acquired(t: float | np.ndarray, horizon: float) -> float | np.ndarray:
    """First purchases up to day t, unnormalised: the integral of 1 + GROWTH * t / horizon."""
    return t + GROWTH * t**2 / (2 * horizon)

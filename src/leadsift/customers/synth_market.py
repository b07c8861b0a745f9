"""The embedded shop as a marketplace: producers, their products, affiliates and how lines are
sold, with a demand model whose causal effects are known.

Every catalogue row of `synth_world` is a price point that several products share, each made by
one producer. A line drawn for a price point (by the customer's segment, as before) goes to one of
the point's products already created, with probability proportional to its demand weight

    log w = commission_effect * commission + size_effect * log(producer's products)
            + niche level + niche trend * years + product quality.

Bigger producers (more products) also set higher commissions, so commission and sales are
confounded through producer size, which the data shows (a producer's product count): a naive
regression of sales on commission is wrong by construction, and an adjusted one can be right.
Segments, orders, prices and categories are drawn exactly as without the market (its draws use
their own random stream), so the segmentation and forecast truths are unchanged.

Each order also gets a device and an origin (smartphones and social origins grow over the
history), and each line is sold directly or through an affiliate (more often the higher the
commission).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from leadsift.customers.synth_world import World

DAYS_PER_YEAR = 365.25
# niche: (demand level, trend of log demand per year)
NICHES = {
    "data science": (0.2, 0.0),
    "artificial intelligence": (-0.3, 0.6),
    "programming": (0.3, 0.0),
    "design": (0.0, -0.1),
    "business": (0.1, 0.0),
    "finance": (0.0, -0.4),
    "languages": (-0.2, 0.0),
    "wellbeing": (-0.4, 0.2),
}
DEVICES = ("desktop", "smartphone", "tablet")
ORIGINS = ("direct", "search", "social", "email", "video")
QUALITY_SD = 0.3  # product quality: log demand no one observes, independent of the rest
COMMISSION_BASE, COMMISSION_NOISE = 25.0, 7.0  # percent, at the mean log producer size
FIRST_CREATED = -720.0  # products are created from two years before the history...
LAST_CREATED_BEFORE_END = 240.0  # ...until this many days before its end
MARKET_COLUMNS = [
    "Category",
    "Niche",
    "ProducerID",
    "ProductCreated",
    "AffiliateID",
    "Commission",
    "Device",
    "Origin",
    "SocialOrigin",
]


@dataclass(frozen=True)
class MarketSetup:
    """config.yaml `generate_transactions_setup.market`."""

    products_per_offer: int
    producers: int
    producer_spread: float
    affiliates: int
    commission_effect: float
    size_effect: float
    commission_per_size: float


@dataclass(frozen=True)
class Market:
    """The products (one row each, in catalogue-point order) and what their demand is made of."""

    products: pd.DataFrame  # code, description, point, category, niche, producer, created, ...
    setup: MarketSetup

    def log_weight(self, day: float | np.ndarray) -> np.ndarray:
        """Each product's log demand weight at `day` (rows: days, columns: products)."""
        years = np.atleast_1d(np.asarray(day, dtype=float))[:, None] / DAYS_PER_YEAR
        p = self.products
        return p["log_weight"].to_numpy()[None, :] + p["trend"].to_numpy()[None, :] * years


def build_market(world: World, setup: MarketSetup, seed: int) -> Market:
    """Products of unequal producers over the catalogue's price points; fixed by the world seed."""
    rng = np.random.default_rng([seed, 10])
    catalogue, k = world.catalogue, setup.products_per_offer
    point = np.repeat(np.arange(len(catalogue)), k)
    weight = rng.lognormal(0.0, setup.producer_spread, setup.producers)
    producer = rng.choice(setup.producers, point.size, p=weight / weight.sum())
    size = np.log(np.bincount(producer, minlength=setup.producers)[producer])
    commission = np.clip(
        np.round(
            COMMISSION_BASE
            + setup.commission_per_size * (size - size.mean())
            + rng.normal(0.0, COMMISSION_NOISE, point.size)
        ),
        0,
        80,
    ).astype(np.int64)
    niche = rng.choice(list(NICHES), point.size)
    level, trend = (np.array([NICHES[n][i] for n in niche]) for i in (0, 1))
    created = rng.uniform(FIRST_CREATED, world.history_days - LAST_CREATED_BEFORE_END, point.size)
    quality = rng.normal(0.0, QUALITY_SD, point.size)
    within = np.tile(np.arange(1, k + 1), len(catalogue))
    codes = catalogue["code"].to_numpy()[point]
    products = pd.DataFrame(
        {
            "code": [f"{c}-{i}" for c, i in zip(codes, within, strict=True)],
            "description": [
                f"{d}.{i}"
                for d, i in zip(catalogue["description"].to_numpy()[point], within, strict=True)
            ],
            "point": point,
            "category": catalogue["category"].to_numpy()[point],
            "price": catalogue["price"].to_numpy()[point],
            "niche": niche,
            "producer": [f"P{p:04d}" for p in producer],
            "created": created,
            "commission": commission,
            "log_weight": setup.commission_effect * commission
            + setup.size_effect * size
            + level
            + quality,
            "trend": trend,
        }
    )
    return Market(products, setup)


def choose_products(
    market: Market,
    point: np.ndarray,
    day: np.ndarray,
    buyer: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """Each line's product among its price point's products created before its day, drawn with
    probability proportional to their demand weights then (a month's weights for a month: the
    trends are slow). A customer keeps the product it first chose at a price point (renews the
    same subscription, buys the same course again); lines whose `buyer` is negative choose
    every time."""
    products = market.products
    created = products["created"].to_numpy()
    chosen = np.empty(point.size, dtype=np.int64)
    month = np.floor(day / 30.0).astype(np.int64)
    by_point = products.groupby("point").indices
    uniform = rng.random(point.size)
    for (p, m), rows in pd.Series(np.arange(point.size)).groupby([point, month]).indices.items():
        candidates = by_point[p]
        alive = candidates[created[candidates] <= day[rows].min()]
        if alive.size == 0:  # no product of the point yet: its oldest one sells
            alive = candidates[[np.argmin(created[candidates])]]
        weight = np.exp(market.log_weight(30.0 * m + 15.0)[0, alive])
        cumulative = np.cumsum(weight / weight.sum())
        pick = np.minimum(np.searchsorted(cumulative, uniform[rows], side="right"), alive.size - 1)
        chosen[rows] = alive[pick]
    known = np.flatnonzero(buyer >= 0)
    if known.size == 0:
        return chosen
    known = known[np.lexsort((day[known], point[known], buyer[known]))]
    pair = buyer[known] * (int(point.max()) + 1) + point[known]
    first = np.r_[True, pair[1:] != pair[:-1]]
    chosen[known] = chosen[known[first]][np.cumsum(first) - 1]
    return chosen


def sale_channels(
    market: Market,
    product: np.ndarray,
    order: np.ndarray,
    day: np.ndarray,
    *,
    history_days: float,
    rng: np.random.Generator,
) -> dict[str, np.ndarray]:
    """Device and origin per order (smartphones and social origins grow over the history) and
    each product's affiliate in it: with probability commission / 80, one of the affiliates
    (unequal sizes)."""
    orders, first = np.unique(order, return_index=True)
    progress = np.clip(day[first] / history_days, 0.0, 1.0)
    smartphone = 0.35 + 0.25 * progress
    device_u = rng.random(orders.size)
    device = np.where(device_u < smartphone, 1, np.where(device_u < smartphone + 0.08, 2, 0))
    social = 0.12 + 0.15 * progress
    origin_u = rng.random(orders.size)
    others = 1 + rng.choice([0, 2, 3], orders.size, p=[0.5, 0.3, 0.2])  # search, email, video
    origin = np.where(origin_u < social, 2, np.where(origin_u < social + 0.35, 0, others))
    where = np.searchsorted(orders, order)
    commission = market.products["commission"].to_numpy()[product]
    affiliate_weight = np.random.default_rng([market.setup.affiliates, 11]).lognormal(
        0.0, 1.5, market.setup.affiliates
    )
    # One affiliate (or none) per product of an order: an order's repeated lines stay alike.
    sale = pd.factorize(pd.MultiIndex.from_arrays([order, product]))[0]
    first = np.unique(sale, return_index=True)[1]
    through = (rng.random(first.size) < commission[first] / 80.0)[sale]
    affiliate = rng.choice(
        market.setup.affiliates, first.size, p=affiliate_weight / affiliate_weight.sum()
    )[sale]
    return {
        "AffiliateID": np.where(
            through, np.char.add("A", np.char.zfill(affiliate.astype(str), 4)), ""
        ),
        "Device": np.array(DEVICES)[device[where]],
        "Origin": np.array(ORIGINS)[origin[where]],
        "SocialOrigin": (origin[where] == 2).astype(np.int64),
    }


def market_columns(market: Market, world: World, product: np.ndarray) -> dict[str, np.ndarray]:
    """The product's own columns of a line: code, description, category, niche, producer,
    creation date, commission."""
    p = market.products
    created = world.start + pd.to_timedelta(np.floor(p["created"].to_numpy()), unit="D")
    return {
        "StockCode": p["code"].to_numpy()[product],
        "Description": p["description"].to_numpy()[product],
        "Category": p["category"].to_numpy()[product],
        "Niche": p["niche"].to_numpy()[product],
        "ProducerID": p["producer"].to_numpy()[product],
        "ProductCreated": created.strftime("%Y-%m-%d").to_numpy()[product],
        "Commission": p["commission"].to_numpy()[product],
    }


def market_truth(market: Market, world: World) -> pd.DataFrame:
    """What the demand model is made of, per product (days from `start`): what only the
    comparisons with the truth read."""
    p = market.products
    return p[["code", "point", "producer", "commission", "log_weight", "trend", "created"]].assign(
        commission_effect=market.setup.commission_effect, start=str(world.start.date())
    )

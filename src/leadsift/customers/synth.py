"""Seeded generator of the platform's customers and their purchases, with a known truth.

Transactions have the shape of UCI Online Retail: invoice, product code, description, quantity,
invoice date, unit price, customer id, country. A cancellation is an invoice starting with `C`
whose quantities are negative; it cancels an earlier invoice of the same customer.

Each customer belongs to one latent segment (`Segment`), which sets when it first buys, how often
it buys while active (a gamma-distributed rate, so customers of a segment differ), how long it
stays active (an exponential lifetime), how many lines an order has, what it buys (a category mix
of the catalogue), how many units per line, and how often it cancels. Purchase rates follow one
calendar seasonality shared by every segment (January and September peaks).

The truth is known twice over. `segment` is each customer's true segment; `bayes_segment` is the
best any method could recover from the same history before `as_of`: the posterior argmax under the
true generative model (`posterior`), the ceiling of the adjusted Rand index, as `p_true` is the
ceiling of ROC-AUC for leads. Segments overlap (a customer with two orders says little), so the
ceiling is below 1. `expected_revenue` gives each month's expected net revenue under the model
given the history up to each origin (the Bayes forecast), the ceiling of a revenue forecast.

Dirt is added after the truth is drawn and is not part of it: guest purchases without a customer
id, exact duplicate lines, zero and negative prices, a few huge wholesale orders (corporate
licences) and description variants.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace

import numpy as np
import pandas as pd
from scipy.signal import lfilter
from scipy.special import gammaln, logsumexp

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
COUNTRIES = {
    "India": 0.62,
    "United Arab Emirates": 0.08,
    "United States": 0.08,
    "United Kingdom": 0.06,
    "Singapore": 0.05,
    "Canada": 0.04,
    "Nigeria": 0.04,
    "Germany": 0.03,
}
GROWTH = 1.5  # first purchases at the end of the history are 1 + GROWTH times those at its start
CANCEL_DELAY_DAYS = (
    1.0,
    14.0,
)  # a cancellation follows its order by this many days (uniform)
FIRST_INVOICE = 500_000
WHOLESALE_INVOICE = 900_000  # wholesale orders are numbered apart, as a separate system does


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
class Dirt:
    """Rates of the export's data-quality problems (shares of lines, or counts)."""

    guest_share: float = 0.08  # of orders, placed without a customer id
    duplicate_rows: float = 0.005
    zero_price: float = 0.002
    negative_price: float = 0.001
    description_variants: float = 0.05
    wholesale_orders: int = 6  # huge corporate-licence orders of existing customers


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


def _acquired(t: float | np.ndarray, horizon: float) -> float | np.ndarray:
    """First purchases up to day t, unnormalised: the integral of 1 + GROWTH * t / horizon."""
    return t + GROWTH * t**2 / (2 * horizon)


def _births(
    n: int, low: float, high: float, horizon: float, rng: np.random.Generator
) -> np.ndarray:
    """First-purchase days on [low, high] with density proportional to 1 + GROWTH * t / horizon."""
    u = _acquired(low, horizon) + rng.random(n) * (
        _acquired(high, horizon) - _acquired(low, horizon)
    )
    a = GROWTH / (2 * horizon)
    return (-1 + np.sqrt(1 + 4 * a * u)) / (2 * a)


def draw_customers(
    n: int,
    segments: list[Segment],
    *,
    world: World,
    recent_months: float,
    future_days: float,
    mix_concentration: float,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """`n` customers whose first purchase is before as_of, then those who join after it (the
    same acquisition curve continued, from the segments that are not `recent` only)."""
    shares = np.array([s.share for s in segments])
    segment = rng.choice(len(segments), n, p=shares / shares.sum())
    recent = np.array([s.recent for s in segments])
    history = world.history_days
    birth = np.where(
        recent[segment],
        history - recent_months * DAYS_PER_MONTH * rng.random(n),
        _births(n, 0.0, history, history, rng),
    )
    steady = ~recent[segment]
    grown = (_acquired(history + future_days, history) - _acquired(history, history)) / _acquired(
        history, history
    )
    n_future = rng.poisson(steady.sum() * grown)
    later = rng.choice(np.flatnonzero(~recent), n_future, p=shares[~recent] / shares[~recent].sum())
    segment = np.concatenate([segment, later])
    birth = np.concatenate([birth, _births(n_future, history, history + future_days, history, rng)])
    m = len(segment)
    rate_mean = np.array([s.rate for s in segments])[segment]
    shape = np.array([s.rate_shape for s in segments])[segment]
    lifetime = np.array([s.lifetime for s in segments])[segment] * DAYS_PER_MONTH
    countries = np.array(list(COUNTRIES), dtype=object)
    weights = np.array(list(COUNTRIES.values()))
    # Each customer's own product mix, scattered around its segment's (Dirichlet).
    alpha = mix_alpha(segments, mix_concentration)[segment]
    mix = rng.gamma(alpha)
    mix /= mix.sum(axis=1, keepdims=True)
    return pd.DataFrame(
        {
            **{f"mix_{c}": mix[:, i] for i, c in enumerate(CATEGORIES)},
            "segment": segment,
            "birth": birth,
            "rate": rng.gamma(shape, rate_mean / shape),
            "death": birth + rng.exponential(lifetime),
            "country": countries[rng.choice(len(countries), m, p=weights / weights.sum())],
        }
    )


def draw_orders(
    customers: pd.DataFrame,
    segments: list[Segment],
    world: World,
    end_day: float,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """Each customer's first order on its first day, then repeat orders at rate x season while it
    is active (thinning a Poisson process at the peak rate), up to `end_day`."""
    birth = customers["birth"].to_numpy()
    stop = np.minimum(customers["death"].to_numpy(), end_day)
    span = np.clip(stop - birth, 0.0, None)
    peak = world.season.max()
    candidates = rng.poisson(customers["rate"].to_numpy() * peak * span / DAYS_PER_MONTH)
    owner = np.repeat(np.arange(len(customers)), candidates)
    day = birth[owner] + rng.random(owner.size) * span[owner]
    kept = rng.random(owner.size) < world.multiplier(day) / peak
    first = np.flatnonzero(birth < end_day)
    owner = np.concatenate([first, owner[kept]])
    day = np.concatenate([birth[first], day[kept]])
    order = np.lexsort((owner, day))
    owner, day = owner[order], day[order]
    segment = customers["segment"].to_numpy()[owner]
    lines = np.array([s.lines for s in segments])[segment]
    cancel = np.array([s.cancel for s in segments])[segment]
    low, high = CANCEL_DELAY_DAYS
    return pd.DataFrame(
        {
            "customer": owner,
            "day": day,
            "n_lines": 1 + rng.poisson(lines),
            "cancelled": rng.random(len(owner)) < cancel,
            "cancel_day": day + rng.uniform(low, high, len(owner)),
        }
    )


def draw_lines(
    orders: pd.DataFrame,
    customers: pd.DataFrame,
    segments: list[Segment],
    world: World,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """The lines of every order: a category from the segment's mix, a product of that category
    (uniformly), and 1 + Poisson(quantity) units."""
    segment = customers["segment"].to_numpy()[orders["customer"].to_numpy()]
    order = np.repeat(np.arange(len(orders)), orders["n_lines"].to_numpy())
    line_segment = segment[order]
    owner = orders["customer"].to_numpy()[order]
    own_mix = customers[[f"mix_{c}" for c in CATEGORIES]].to_numpy()
    cumulative = np.cumsum(own_mix, axis=1)[owner]
    category = np.minimum(
        (rng.random(order.size)[:, None] > cumulative).sum(axis=1), len(CATEGORIES) - 1
    )
    by_category = [np.flatnonzero(world.catalogue["category"].to_numpy() == c) for c in CATEGORIES]
    sizes = np.array([len(b) for b in by_category])
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    pick = (rng.random(order.size) * sizes[category]).astype(int)
    product = np.concatenate(by_category)[offsets[category] + pick]
    quantity = 1 + rng.poisson(np.array([s.quantity for s in segments])[line_segment])
    return pd.DataFrame({"order": order, "product": product, "quantity": quantity})


def draw_population(
    n_customers: int,
    segments: list[Segment],
    *,
    world: World,
    recent_months: float,
    mix_concentration: float,
    seed: int,
) -> Population:
    """Customers, orders and lines over the history and the months after it."""
    rng = np.random.default_rng([seed, 1])
    end = float(world.edges[-1])
    customers = draw_customers(
        n_customers,
        segments,
        world=world,
        recent_months=recent_months,
        future_days=end - world.history_days,
        mix_concentration=mix_concentration,
        rng=rng,
    )
    orders = draw_orders(customers, segments, world, end, rng)
    lines = draw_lines(orders, customers, segments, world, rng)
    return Population(customers, orders, lines)


def _log_gamma_poisson(
    x: np.ndarray, shape: float, scale: float, exposure: np.ndarray
) -> np.ndarray:
    """log of the integral over a Gamma(shape, scale) rate r of r^x exp(-r * exposure)."""
    return (
        gammaln(shape + x)
        - gammaln(shape)
        - shape * np.log(scale)
        - (shape + x) * np.log(1.0 / scale + exposure)
    )


def _log_poisson(k: np.ndarray, mean: float) -> np.ndarray:
    if mean == 0:
        return np.where(k == 0, 0.0, -np.inf)
    return k * np.log(mean) - mean - gammaln(k + 1)


@dataclass(frozen=True)
class History:
    """What is seen of each customer before `as_of`: the data the Bayes answers condition on."""

    as_of: float  # day the history ends
    birth: np.ndarray  # first purchase day, per customer
    exposure: np.ndarray  # seasonal intensity from the first purchase to as_of, in months
    repeats: np.ndarray  # orders after the first
    last: np.ndarray  # day of the last order
    order_owner: np.ndarray  # per seen order: its customer's row
    extra_lines: np.ndarray  # per seen order: lines beyond the first
    cancel_seen: np.ndarray  # per seen order: its cancellation is dated before as_of
    cancel_visible: np.ndarray  # per seen order: P(a cancellation would be dated before as_of)
    line_owner: np.ndarray  # per seen line: its customer's row
    extra_units: np.ndarray  # per seen line: units beyond the first
    category_counts: np.ndarray  # lines per customer and category (customers x CATEGORIES)


def history_before(population: Population, world: World, as_of: float | None = None) -> History:
    """The history before `as_of` (default: the export's end) of every customer who first bought
    before it."""
    as_of = world.history_days if as_of is None else as_of
    customers, orders = population.customers, population.orders
    known = np.flatnonzero(customers["birth"].to_numpy() < as_of)
    row = np.full(len(customers), -1)
    row[known] = np.arange(len(known))
    seen = orders["day"].to_numpy() < as_of
    owner = row[orders["customer"].to_numpy()[seen]]
    day = orders["day"].to_numpy()[seen]
    last = np.full(len(known), -np.inf)
    np.maximum.at(last, owner, day)
    low, high = CANCEL_DELAY_DAYS
    lines = population.lines[seen[population.lines["order"].to_numpy()]]
    order_row = np.cumsum(seen) - 1  # an order's index among the seen orders
    line_owner = owner[order_row[lines["order"].to_numpy()]]
    of_product = pd.Categorical(world.catalogue["category"], categories=CATEGORIES).codes
    category = of_product[lines["product"].to_numpy()]
    n_categories = len(CATEGORIES)
    counts = np.bincount(line_owner * n_categories + category, minlength=len(known) * n_categories)
    birth = customers["birth"].to_numpy()[known]
    return History(
        as_of=as_of,
        birth=birth,
        exposure=world.intensity(np.full(len(known), as_of)) - world.intensity(birth),
        repeats=np.bincount(owner, minlength=len(known)) - 1,
        last=last,
        order_owner=owner,
        extra_lines=orders["n_lines"].to_numpy()[seen] - 1,
        cancel_seen=(orders["cancelled"] & (orders["cancel_day"] < as_of)).to_numpy()[seen],
        cancel_visible=np.clip((as_of - day - low) / (high - low), 0.0, 1.0),
        line_owner=line_owner,
        extra_units=lines["quantity"].to_numpy() - 1,
        category_counts=counts.reshape(len(known), n_categories).astype(float),
    )


def _log_timing(
    segment: Segment, seen: History, world: World, recent_months: float
) -> tuple[np.ndarray, np.ndarray]:
    """log P(first day, repeat count, last order day, alive at as_of | segment) and the same gone
    by as_of (after the last order), the gamma-distributed rate and the exponential lifetime
    integrated out. The first day's density is over the whole history, so a shorter history's
    customers keep the prior the full one gives them."""
    history, as_of = world.history_days, seen.as_of
    birth, last = seen.birth, seen.last
    if segment.recent:
        window = recent_months * DAYS_PER_MONTH
        log_first = np.where(birth >= history - window, -np.log(window), -np.inf)
    else:
        log_first = np.log((1 + GROWTH * birth / history) / _acquired(history, history))
    scale = segment.rate / segment.rate_shape
    death_rate = 1.0 / (segment.lifetime * DAYS_PER_MONTH)  # per day
    at_birth = world.intensity(birth)
    alive = -death_rate * (as_of - birth) + _log_gamma_poisson(
        seen.repeats, segment.rate_shape, scale, seen.exposure
    )
    grid = np.linspace(0.0, 1.0, 33)
    weights = np.full(grid.size, 1.0 / (grid.size - 1))
    weights[[0, -1]] /= 2
    gone = last[:, None] + grid[None, :] * (as_of - last)[:, None]  # candidate last active days
    dies = (
        np.log(death_rate)
        - death_rate * (gone - birth[:, None])
        + _log_gamma_poisson(
            seen.repeats[:, None],
            segment.rate_shape,
            scale,
            world.intensity(gone) - at_birth[:, None],
        )
    )
    top = dies.max(axis=1)
    width = as_of - last
    died = np.log(np.exp(dies - top[:, None]) @ weights) + top + np.log(np.maximum(width, 1e-12))
    return log_first + alive, log_first + np.where(width > 0, died, -np.inf)


def _log_baskets(segment: Segment, alpha: np.ndarray, seen: History) -> np.ndarray:
    """log P(lines per order, cancellations seen, categories and units of every line | segment):
    the categories' likelihood integrates out the customer's own mix (Dirichlet-multinomial)."""
    n = len(seen.birth)
    p_cancel = segment.cancel * seen.cancel_visible
    per_order = _log_poisson(seen.extra_lines, segment.lines) + np.where(
        seen.cancel_seen, np.log(np.maximum(p_cancel, 1e-300)), np.log1p(-p_cancel)
    )
    per_line = _log_poisson(seen.extra_units, segment.quantity)
    counts = seen.category_counts
    mixes = (
        gammaln(alpha.sum())
        - gammaln(alpha.sum() + counts.sum(axis=1))
        + (gammaln(counts + alpha) - gammaln(alpha)).sum(axis=1)
    )
    return (
        np.bincount(seen.order_owner, weights=per_order, minlength=n)
        + np.bincount(seen.line_owner, weights=per_line, minlength=n)
        + mixes
    )


def _log_joint(
    seen: History,
    segments: list[Segment],
    world: World,
    recent_months: float,
    mix_concentration: float,
) -> tuple[np.ndarray, np.ndarray]:
    """log P(history, segment, alive at as_of) and log P(history, segment, gone by then), each
    customers x segments, under the true generative model."""
    alphas = mix_alpha(segments, mix_concentration)
    alive, gone = [], []
    for s, a in zip(segments, alphas, strict=True):
        baskets = np.log(s.share) + _log_baskets(s, a, seen)
        timing = _log_timing(s, seen, world, recent_months)
        alive.append(baskets + timing[0])
        gone.append(baskets + timing[1])
    return np.column_stack(alive), np.column_stack(gone)


def posterior(
    population: Population,
    segments: list[Segment],
    world: World,
    recent_months: float,
    mix_concentration: float,
) -> np.ndarray:
    """P(segment | history before as_of) for each customer who first bought before as_of, under
    the true generative model: the Bayes-optimal segment assignment is its row-wise argmax.

    The season multiplies every segment's rate alike and cancels out of the posterior.
    """
    seen = history_before(population, world)
    joint = np.logaddexp(*_log_joint(seen, segments, world, recent_months, mix_concentration))
    return np.exp(joint - logsumexp(joint, axis=1, keepdims=True))


def _order_values(segments: list[Segment], world: World) -> tuple[np.ndarray, np.ndarray]:
    """Per segment: the expected gross value of one order given a customer's own mix (a matrix
    applied to the mixes), as lines x units x the mix's mean price, and the share kept (not
    cancelled)."""
    mean_price = world.catalogue.groupby("category")["price"].mean().reindex(CATEGORIES).to_numpy()
    per_order = np.array([(1 + s.lines) * (1 + s.quantity) for s in segments])
    keep = 1 - np.array([s.cancel for s in segments])
    return per_order[:, None] * mean_price[None, :], keep


def _birth_rates(
    n_customers: int, segments: list[Segment], world: World, recent_months: float, days: np.ndarray
) -> np.ndarray:
    """Expected first purchases per day at `days`, per segment (segments x days): the acquisition
    curve `draw_customers` samples from, continued after as_of for the steady segments."""
    shares = np.array([s.share for s in segments]) / sum(s.share for s in segments)
    history = world.history_days
    steady = n_customers * (1 + GROWTH * days / history) / _acquired(history, history)
    window = recent_months * DAYS_PER_MONTH
    recent = np.where((days >= history - window) & (days < history), n_customers / window, 0.0)
    return shares[:, None] * np.array([recent if s.recent else steady for s in segments])


EXPECTED = ("expected_revenue", "expected_from_history")


def _active_weights(
    seen: History,
    segments: list[Segment],
    world: World,
    recent_months: float,
    mix_concentration: float,
    *,
    order_value: np.ndarray,
) -> np.ndarray:
    """Per segment, the expected net value of the orders per month, at a seasonal multiplier of
    1, of the customers seen by `seen.as_of` who are still active then, given their histories:
    the sum over customers of P(segment, active | history) x E[rate | history, segment, active]
    x E[value of an order | history, segment]. The rate's posterior is gamma (the repeats over
    the seasonal exposure since the first order), the mix's Dirichlet (the lines' categories)."""
    alive, gone = _log_joint(seen, segments, world, recent_months, mix_concentration)
    evidence = logsumexp(np.logaddexp(alive, gone), axis=1, keepdims=True)
    active = np.exp(alive - evidence)  # P(segment, active | history)
    counts = seen.category_counts
    alphas = mix_alpha(segments, mix_concentration)
    weights = np.empty(len(segments))
    for s, kind in enumerate(segments):
        rate = (kind.rate_shape + seen.repeats) / (kind.rate_shape / kind.rate + seen.exposure)
        mix = (alphas[s] + counts) / (alphas[s].sum() + counts.sum(axis=1, keepdims=True))
        weights[s] = (active[:, s] * rate * (mix @ order_value[s])).sum()
    return weights


def expected_revenue(
    population: Population,
    segments: list[Segment],
    world: World,
    *,
    n_customers: int,
    recent_months: float,
    mix_concentration: float,
    guest_share: float,
    step_days: float = 0.25,
) -> pd.DataFrame:
    """What the Bayes-optimal forecaster would predict, who knows the generative model and sees
    the history up to each origin: for each origin in the history (the last month it has; the
    month before `start` for none) and each later month, that month's expected net revenue
    given that history, the ceiling of a revenue forecast as `posterior` is of segmentation.

    No latent fact is used: which segment a customer is in, its rate, its product mix and
    whether it is still active are posteriors given its orders before the origin
    (`_active_weights`). An active customer's remaining lifetime is exponential (memoryless)
    with its segment's mean, so its expected orders in a month are its rate x the seasonal
    multiplier x its survival. Customers who first buy after the origin arrive at the
    acquisition curve's expected rate with their segment's mean rate and mix (their first
    order, then repeats while active), integrated over a grid of `step_days`. Guest orders copy
    customers' at `guest_share` and are never cancelled; cancellations count in their order's
    month.

    The `recent` segments' customers arrive only in the last `recent_months` before as_of: a
    campaign the model plans, which no history before it shows: `expected_revenue` knows of it.
    `expected_from_history` is the same expectation learning of the campaign only once its first
    arrivals are in the history, as a model of the revenue series must (until then it knows
    everything else but not the campaign)."""
    lifetime = np.array([s.lifetime for s in segments]) * DAYS_PER_MONTH
    values, keep = _order_values(segments, world)
    kept = keep + guest_share / (1 - guest_share)  # guest copies are never cancelled
    order_value = values * kept[:, None]  # per segment and category of the customer's mix
    alpha = mix_alpha(segments, mix_concentration)
    newcomer = (values * alpha / alpha.sum(axis=1, keepdims=True)).sum(axis=1) * kept
    starts, ends = world.edges[:-1], world.edges[1:]
    days = np.arange(0.0, world.edges[-1], step_days) + step_days / 2
    month_of = np.searchsorted(world.edges, days, side="right") - 1
    births = _birth_rates(n_customers, segments, world, recent_months, days) * step_days
    season = world.multiplier(days) / DAYS_PER_MONTH * step_days  # intensity per grid step
    label = [(world.start + pd.Timedelta(days=float(d))).strftime("%Y-%m") for d in starts]
    before_start = (world.start - pd.DateOffset(months=1)).strftime("%Y-%m")
    campaign_start = world.history_days - recent_months * DAYS_PER_MONTH
    rows = []
    for k, origin in enumerate(starts[starts <= world.history_days]):
        seen = history_before(population, world, origin)
        weights = _active_weights(
            seen, segments, world, recent_months, mix_concentration, order_value=order_value
        )
        life = lifetime[:, None]
        survival = np.exp(-(starts[k:] - origin) / life) - np.exp(-(ends[k:] - origin) / life)
        known = (weights[:, None] * life * survival).sum(axis=0) * world.season[k:]
        known /= DAYS_PER_MONTH
        # Arriving after it: the first order, then repeats while still active, where the number
        # active is a running sum of arrivals decaying at the segment's lifetime.
        steady, campaign = np.zeros(len(days)), np.zeros(len(days))
        for s, kind in enumerate(segments):
            born = np.where(days >= origin, births[s], 0.0)
            alive = lfilter([1.0], [1.0, -np.exp(-step_days / lifetime[s])], born)
            arriving = newcomer[s] * (born + kind.rate * season * alive)
            if kind.recent:
                campaign += arriving
            else:
                steady += arriving
        later = np.bincount(month_of, weights=steady, minlength=len(starts))[k:]
        planned = np.bincount(month_of, weights=campaign, minlength=len(starts))[k:]
        before = label[k - 1] if k else before_start
        begun = origin > campaign_start
        rows += [
            (before, m, v + p, v + p if begun else v)
            for m, v, p in zip(label[k:], known + later, planned, strict=True)
        ]
    return pd.DataFrame(rows, columns=["origin", "month", *EXPECTED])


EXPORT_COLUMNS = [
    "InvoiceNo",
    "StockCode",
    "Description",
    "Quantity",
    "InvoiceDate",
    "UnitPrice",
    "CustomerID",
    "Country",
]
CUSTOMER_ID_OFFSET = 12_000  # customer i is "12000 + i", as retail exports number customers


def _lines_frame(
    population: Population,
    world: World,
    guest_orders: np.ndarray,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """Every line of every order and cancellation, customers' and guests', in the export's
    columns, sorted by time; `day` kept for cutting the history from the batches."""
    orders, lines, customers = population.orders, population.lines, population.customers
    # A guest order repeats a customer order's day and basket, with no customer and no cancel.
    all_orders = np.concatenate([np.arange(len(orders)), guest_orders])
    guest = np.r_[np.zeros(len(orders), bool), np.ones(len(guest_orders), bool)]
    day = orders["day"].to_numpy()[all_orders]
    cancelled = orders["cancelled"].to_numpy()[all_orders] & ~guest
    sequence = np.argsort(day, kind="stable")
    invoice = np.empty(len(all_orders), dtype=np.int64)
    invoice[sequence] = FIRST_INVOICE + np.arange(len(all_orders))
    owner = orders["customer"].to_numpy()[all_orders]
    customer_id = np.where(guest, "", (CUSTOMER_ID_OFFSET + owner).astype(str)).astype(object)
    country = np.where(
        guest,
        rng.choice(list(COUNTRIES), len(all_orders)),
        customers["country"].to_numpy()[owner],
    )

    line_start = np.concatenate([[0], np.cumsum(orders["n_lines"].to_numpy())[:-1]])
    counts = orders["n_lines"].to_numpy()[all_orders]
    line_order = np.repeat(np.arange(len(all_orders)), counts)
    within = np.arange(line_order.size) - np.repeat(np.cumsum(counts) - counts, counts)
    source = line_start[all_orders][line_order] + within
    product = lines["product"].to_numpy()[source]
    quantity = lines["quantity"].to_numpy()[source]
    catalogue = world.catalogue
    purchases = pd.DataFrame(
        {
            "order": line_order,
            "InvoiceNo": invoice[line_order].astype(str),
            "StockCode": catalogue["code"].to_numpy()[product],
            "Description": catalogue["description"].to_numpy()[product],
            "Quantity": quantity,
            "day": day[line_order],
            "UnitPrice": catalogue["price"].to_numpy()[product],
            "CustomerID": customer_id[line_order],
            "Country": country[line_order],
        }
    )
    # A cancellation reverses every line of its order, a few days later, as invoice C<number>.
    cancel_orders = np.flatnonzero(cancelled)
    reversed_lines = purchases[cancelled[purchases["order"].to_numpy()]]
    cancel_day = orders["cancel_day"].to_numpy()[all_orders]
    cancel_number = np.empty(len(all_orders), dtype=np.int64)
    cancel_number[cancel_orders[np.argsort(cancel_day[cancel_orders], kind="stable")]] = (
        FIRST_INVOICE + len(all_orders) + np.arange(len(cancel_orders))
    )
    cancellations = reversed_lines.assign(
        InvoiceNo="C"
        + pd.Series(cancel_number[reversed_lines["order"]], index=reversed_lines.index).astype(str),
        Quantity=-reversed_lines["Quantity"],
        day=cancel_day[reversed_lines["order"]],
    )
    frame = pd.concat([purchases, cancellations], ignore_index=True)
    return frame.sort_values(["day", "InvoiceNo"], kind="stable", ignore_index=True)


def _description_variant(text: str, kind: int) -> str:
    return (text.upper(), text.lower(), f"  {text} ", f"{text} (online)")[kind]


def add_dirt(frame: pd.DataFrame, dirt: Dirt, rng: np.random.Generator) -> pd.DataFrame:
    """Description variants, zero and negative prices and exact duplicate lines, at their rates."""
    out = frame.copy()
    n = len(out)
    variants = np.flatnonzero(rng.random(n) < dirt.description_variants)
    kinds = rng.integers(0, 4, variants.size)
    descriptions = out["Description"].to_numpy(dtype=object).copy()
    for row, kind in zip(variants, kinds, strict=True):
        descriptions[row] = _description_variant(descriptions[row], kind)
    out["Description"] = descriptions
    price = out["UnitPrice"].to_numpy(copy=True)
    price[rng.random(n) < dirt.zero_price] = 0.0
    negative = rng.random(n) < dirt.negative_price
    price[negative] = -price[negative]
    out["UnitPrice"] = price
    repeated = np.flatnonzero(rng.random(n) < dirt.duplicate_rows)
    order = np.sort(np.concatenate([np.arange(n), repeated]), kind="stable")
    return out.iloc[order].reset_index(drop=True)


def _wholesale(
    population: Population,
    world: World,
    count: int,
    first_invoice: int,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """A few huge corporate-licence orders (hundreds of seats of one course) by existing
    customers: real purchases that no segment's behaviour explains."""
    customers = population.customers
    eligible = np.flatnonzero(customers["birth"].to_numpy() < world.history_days)
    owners = rng.choice(eligible, count, replace=False)
    courses = world.catalogue.index[world.catalogue["category"] == "course"].to_numpy()
    product = rng.choice(courses, count)
    days = rng.uniform(customers["birth"].to_numpy()[owners], world.history_days)
    return pd.DataFrame(
        {
            "InvoiceNo": (first_invoice + np.arange(count)).astype(str),
            "StockCode": world.catalogue["code"].to_numpy()[product],
            "Description": world.catalogue["description"].to_numpy()[product],
            "Quantity": rng.integers(200, 1000, count),
            "day": days,
            "UnitPrice": world.catalogue["price"].to_numpy()[product],
            "CustomerID": (CUSTOMER_ID_OFFSET + owners).astype(str),
            "Country": customers["country"].to_numpy()[owners],
        }
    )


def _export(frame: pd.DataFrame, world: World) -> pd.DataFrame:
    stamps = world.start + pd.to_timedelta(np.floor(frame["day"].to_numpy() * 86_400), unit="s")
    return frame.assign(InvoiceDate=stamps.strftime("%Y-%m-%d %H:%M:%S"))[EXPORT_COLUMNS]


@dataclass(frozen=True)
class Transactions:
    export: pd.DataFrame  # the history before as_of, with dirt: what a shop's export holds
    truth: pd.DataFrame  # customer_id, segment, bayes_segment, bayes_probability
    batches: list[tuple[str, pd.DataFrame]]  # (YYYY-MM, that month's lines) after as_of
    expected: pd.DataFrame  # origin, month, EXPECTED: the generative truth's forecasts


def generate_transactions(
    n_customers: int,
    *,
    start: str,
    months: int,
    future_months: int,
    recent_months: float,
    mix_concentration: float,
    segments: Mapping[str, Segment],
    world_seed: int,
    sample_seed: int,
    dirt: Dirt,
) -> Transactions:
    """The export of `months` of history from `start` (as_of = its end), the truth of every
    customer who bought in it, and `future_months` monthly batches after it."""
    names = np.array(list(segments), dtype=object)
    kinds = list(segments.values())
    world = build_world(world_seed, start, months, future_months)
    population = draw_population(
        n_customers,
        kinds,
        world=world,
        recent_months=recent_months,
        mix_concentration=mix_concentration,
        seed=sample_seed,
    )
    rng = np.random.default_rng([sample_seed, 2])
    n_guest = rng.poisson(dirt.guest_share / (1 - dirt.guest_share) * len(population.orders))
    guests = np.sort(rng.integers(0, len(population.orders), n_guest))
    lines = _lines_frame(population, world, guests, rng)
    as_of = world.history_days
    wholesale = _wholesale(population, world, dirt.wholesale_orders, WHOLESALE_INVOICE, rng)
    past = pd.concat([lines[lines["day"] < as_of], wholesale], ignore_index=True)
    past = past.sort_values(["day", "InvoiceNo"], kind="stable", ignore_index=True)
    export = _export(add_dirt(past, dirt, rng), world)
    quiet = replace(dirt, wholesale_orders=0)
    batches = []
    bounds = zip(world.edges[months:-1], world.edges[months + 1 :], strict=True)
    for month, (low, high) in enumerate(bounds):
        part = lines[(lines["day"] >= low) & (lines["day"] < high)]
        name = (world.start + pd.Timedelta(days=float(low))).strftime("%Y-%m")
        dirty = add_dirt(part, quiet, np.random.default_rng([sample_seed, 3, month]))
        batches.append((name, _export(dirty, world)))
    probability = posterior(population, kinds, world, recent_months, mix_concentration)
    known = np.flatnonzero(population.customers["birth"].to_numpy() < as_of)
    truth = pd.DataFrame(
        {
            "customer_id": (CUSTOMER_ID_OFFSET + known).astype(str),
            "segment": names[population.customers["segment"].to_numpy()[known]],
            "bayes_segment": names[probability.argmax(axis=1)],
            "bayes_probability": probability.max(axis=1),
        }
    )
    expected = expected_revenue(
        population,
        kinds,
        world,
        n_customers=n_customers,
        recent_months=recent_months,
        mix_concentration=mix_concentration,
        guest_share=dirt.guest_share,
    )
    return Transactions(export, truth, batches, expected)

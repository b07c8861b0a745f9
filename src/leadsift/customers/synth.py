"""Seeded generator of the platform's customers and their purchases, with a known truth.

Transactions have the shape of UCI Online Retail: invoice, product code, description, quantity,
invoice date, unit price, customer id, country. A cancellation is an invoice starting with `C`
whose quantities are negative; it cancels an earlier invoice of the same customer.

Customers, their orders and lines are drawn from the world of `synth_world` (its catalogue,
calendar and latent segments); the truth of the same draw (`synth_truth`) comes with them: each
customer's true segment, the Bayes-optimal one, and the expected revenue from each origin.

Dirt is added after the truth is drawn and is not part of it: guest purchases without a customer
id, exact duplicate lines, zero and negative prices, a few huge wholesale orders (corporate
licences) and description variants.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from leadsift.customers.synth_market import (
    MARKET_COLUMNS,
    Market,
    MarketSetup,
    build_market,
    choose_products,
    market_columns,
    market_truth,
    sale_channels,
)
from leadsift.customers.synth_truth import expected_revenue, posterior
from leadsift.customers.synth_world import (
    CANCEL_DELAY_DAYS,
    CATEGORIES,
    DAYS_PER_MONTH,
    GROWTH,
    Population,
    Segment,
    World,
    acquired,
    build_world,
    mix_alpha,
)

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
FIRST_INVOICE = 500_000
WHOLESALE_INVOICE = 900_000  # wholesale orders are numbered apart, as a separate system does


@dataclass(frozen=True)
class Dirt:
    """Rates of the export's data-quality problems (shares of lines, or counts)."""

    guest_share: float = 0.08  # of orders, placed without a customer id
    duplicate_rows: float = 0.005
    zero_price: float = 0.002
    negative_price: float = 0.001
    description_variants: float = 0.05
    wholesale_orders: int = 6  # huge corporate-licence orders of existing customers


def _births(
    n: int, low: float, high: float, horizon: float, rng: np.random.Generator
) -> np.ndarray:
    """First-purchase days on [low, high] with density proportional to 1 + GROWTH * t / horizon."""
    u = acquired(low, horizon) + rng.random(n) * (acquired(high, horizon) - acquired(low, horizon))
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
    grown = (acquired(history + future_days, history) - acquired(history, history)) / acquired(
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


EXPORT_COLUMNS = [
    "InvoiceNo",
    "StockCode",
    "Description",
    "Quantity",
    "InvoiceDate",
    "UnitPrice",
    "CustomerID",
    "Country",
    *MARKET_COLUMNS,
]
CUSTOMER_ID_OFFSET = 12_000  # customer i is "12000 + i", as retail exports number customers


def _lines_frame(
    population: Population,
    world: World,
    guest_orders: np.ndarray,
    rng: np.random.Generator,
    *,
    market: Market,
    market_rng: np.random.Generator,
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
    point = lines["product"].to_numpy()[source]
    quantity = lines["quantity"].to_numpy()[source]
    # A guest order is its own buyer: its lines of one price point are one product, as a
    # customer's are.
    buyer = np.where(guest, len(customers) + np.arange(len(all_orders)), owner)[line_order]
    product = choose_products(market, point, day[line_order], buyer, market_rng)
    purchases = pd.DataFrame(
        {
            "order": line_order,
            "InvoiceNo": invoice[line_order].astype(str),
            "Quantity": quantity,
            "day": day[line_order],
            "UnitPrice": world.catalogue["price"].to_numpy()[point],
            "CustomerID": customer_id[line_order],
            "Country": country[line_order],
            **market_columns(market, world, product),
            **sale_channels(
                market,
                product,
                line_order,
                day[line_order],
                history_days=world.history_days,
                rng=market_rng,
            ),
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
    *,
    market: Market,
    market_rng: np.random.Generator,
    chosen: pd.Series,
) -> pd.DataFrame:
    """A few huge corporate-licence orders (hundreds of seats of one course) by existing
    customers: real purchases that no segment's behaviour explains. A customer who bought a
    product of that price point already (`chosen`: product by customer id and point) licenses
    that product."""
    customers = population.customers
    eligible = np.flatnonzero(customers["birth"].to_numpy() < world.history_days)
    owners = rng.choice(eligible, count, replace=False)
    courses = world.catalogue.index[world.catalogue["category"] == "course"].to_numpy()
    product = rng.choice(courses, count)
    days = rng.uniform(customers["birth"].to_numpy()[owners], world.history_days)
    sold = choose_products(market, product, days, np.full(count, -1), market_rng)
    customer_id = (CUSTOMER_ID_OFFSET + owners).astype(str)
    earlier = chosen.reindex(pd.MultiIndex.from_arrays([customer_id, product])).to_numpy()
    sold = np.where(pd.isna(earlier), sold, earlier).astype(np.int64)
    return pd.DataFrame(
        {
            "InvoiceNo": (first_invoice + np.arange(count)).astype(str),
            **market_columns(market, world, sold),
            "AffiliateID": "",
            "Device": "desktop",
            "Origin": "direct",
            "SocialOrigin": 0,
            "Quantity": rng.integers(200, 1000, count),
            "day": days,
            "UnitPrice": world.catalogue["price"].to_numpy()[product],
            "CustomerID": customer_id,
            "Country": customers["country"].to_numpy()[owners],
        }
    )


def _chosen_products(lines: pd.DataFrame, market: Market) -> pd.Series:
    """The product each customer buys at each price point it bought from (by id and point)."""
    bought = lines[lines["CustomerID"] != ""]
    index = pd.Series(np.arange(len(market.products)), index=market.products["code"])
    product = index.reindex(bought["StockCode"]).to_numpy()
    point = market.products["point"].to_numpy()[product]
    chosen = pd.Series(product, index=pd.MultiIndex.from_arrays([bought["CustomerID"], point]))
    return chosen[~chosen.index.duplicated()]


def _export(frame: pd.DataFrame, world: World) -> pd.DataFrame:
    stamps = world.start + pd.to_timedelta(np.floor(frame["day"].to_numpy() * 86_400), unit="s")
    return frame.assign(InvoiceDate=stamps.strftime("%Y-%m-%d %H:%M:%S"))[EXPORT_COLUMNS]


@dataclass(frozen=True)
class Transactions:
    export: pd.DataFrame  # the history before as_of, with dirt: what a shop's export holds
    truth: pd.DataFrame  # customer_id, segment, bayes_segment, bayes_probability
    batches: list[tuple[str, pd.DataFrame]]  # (YYYY-MM, that month's lines) after as_of
    expected: pd.DataFrame  # origin, month, EXPECTED: the generative truth's forecasts
    market: pd.DataFrame  # each product's demand model (`synth_market.market_truth`)


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
    market: MarketSetup,
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
    shop = build_market(world, market, world_seed)
    market_rng = np.random.default_rng([sample_seed, 4])
    rng = np.random.default_rng([sample_seed, 2])
    n_guest = rng.poisson(dirt.guest_share / (1 - dirt.guest_share) * len(population.orders))
    guests = np.sort(rng.integers(0, len(population.orders), n_guest))
    lines = _lines_frame(population, world, guests, rng, market=shop, market_rng=market_rng)
    as_of = world.history_days
    wholesale = _wholesale(
        population,
        world,
        dirt.wholesale_orders,
        WHOLESALE_INVOICE,
        rng,
        market=shop,
        market_rng=market_rng,
        chosen=_chosen_products(lines, shop),
    )
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
    return Transactions(export, truth, batches, expected, market_truth(shop, world))

"""The embedded shop's truth, known twice over: the best segmentation and the best revenue
forecast any method could reach from the same history, under the true generative model
(`synth_world`) and a draw of it (`synth.draw_population`).

`posterior` gives, for each customer who first bought before as_of, P(segment | its history): the
posterior argmax is the ceiling of the adjusted Rand index, as `p_true` is the ceiling of ROC-AUC
for leads. Segments overlap (a customer with two orders says little), so the ceiling is below 1.
`expected_revenue` gives each month's expected net revenue under the model given the history up
to each origin (the Bayes forecast), the ceiling of a revenue forecast. Neither reads a latent
fact of a customer: only its orders before the origin (`history_before`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.signal import lfilter
from scipy.special import gammaln, logsumexp

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
        log_first = np.log((1 + GROWTH * birth / history) / acquired(history, history))
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


def planned_campaigns(
    params: Mapping[str, Any], n_customers: int | None = None
) -> list[dict[str, Any]]:
    """The embedded shop's campaign as a calendar of planned campaigns states it
    (`forecast_setup.campaigns`), from the generator's params: the `recent` segments' customers
    first buy in the last `recent_months` before as_of; their expected number among
    `n_customers` (default: the params') and their orders' expected net value, rounded as a plan
    would be. What the calendar of the embedded shop must say, at any size; none without a
    `recent` segment."""
    setup = params["generate_transactions_setup"]
    n = params["generate_transactions"]["n_customers"] if n_customers is None else n_customers
    kinds = [Segment.from_params(name, entry) for name, entry in setup["segments"].items()]
    recent = np.array([kind.recent for kind in kinds])
    if not recent.any():
        return []
    world = build_world(
        setup["world_seed"], setup["start"], setup["months"], setup["future_months"]
    )
    shares = np.array([kind.share for kind in kinds]) / sum(kind.share for kind in kinds)
    values, keep = _order_values(kinds, world)
    per_order = _mean_mix_value(values, kinds, setup["mix_concentration"]) * keep
    as_of = world.start + pd.Timedelta(days=world.history_days)
    begins = as_of - pd.Timedelta(days=setup["recent_months"] * DAYS_PER_MONTH)
    share = shares[recent].sum()
    return [
        {
            "name": "launch campaign",
            "start": str(begins.date()),
            "end": str((as_of - pd.Timedelta(days=1)).date()),
            "new_customers": round(n * share),
            "order_value": round(float(per_order[recent] @ shares[recent]) / share),
        }
    ]


def _mean_mix_value(
    values: np.ndarray, segments: list[Segment], mix_concentration: float
) -> np.ndarray:
    """Per segment, the gross value of an order (`_order_values`) for the segment's mean mix: a
    newcomer's, whose own mix nothing shows yet."""
    alpha = mix_alpha(segments, mix_concentration)
    return (values * alpha / alpha.sum(axis=1, keepdims=True)).sum(axis=1)


def _birth_rates(
    n_customers: int, segments: list[Segment], world: World, recent_months: float, days: np.ndarray
) -> np.ndarray:
    """Expected first purchases per day at `days`, per segment (segments x days): the acquisition
    curve `draw_customers` samples from, continued after as_of for the steady segments."""
    shares = np.array([s.share for s in segments]) / sum(s.share for s in segments)
    history = world.history_days
    steady = n_customers * (1 + GROWTH * days / history) / acquired(history, history)
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
    newcomer = _mean_mix_value(values, segments, mix_concentration) * kept
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

"""A revenue forecast from the customers themselves: who is still buying, how often and for how
much, from each customer's own orders, plus the newcomers the coming months bring.

A revenue series is a sum over customers, and the sum hides what its parts show: that a customer
silent since spring has probably gone, that last month's newcomers will buy again. Each customer's
orders follow the Pareto/NBD model (Schmittlein, Morrison & Colombo 1987; the likelihood and the
conditional expectation of Fader, Hardie & Lee 2005): Poisson orders at a gamma-distributed rate
until an exponential, gamma-distributed lifetime ends, never observed. Customers who spend more
per order buy and lapse differently (a single model over everyone overstates the lapsing ones'
future and understates the loyal ones'), so each band of average order value gets its own.
Orders run on a seasonal clock: a calendar month lasts its seasonal multiplier, learnt from the
repeat orders against what an unseasonal fit expects in each month.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.special import gammaln, hyp2f1, logsumexp
from sklearn.base import BaseEstimator

from leadsift.customers.features import DAYS_PER_MONTH
from leadsift.customers.forecast.calendar import NO_CAMPAIGNS, Calendar

YEAR = 12  # months
# log r, alpha, s, beta. A shape s of 100 already means one dropout rate for all (a 10% spread);
# above it the likelihood is flat and slow to evaluate.
LOG_BOUNDS = [(-7.0, 7.0), (-7.0, 7.0), (-7.0, np.log(100.0)), (-7.0, 12.0)]


class ParetoNBD(BaseEstimator):
    """Pareto/NBD fitted by maximum likelihood to rows of (repeat orders, months from the first
    order to the last, months from the first order to the cut), on any clock.

    `params_` holds (r, alpha, s, beta): order rates are Gamma(r, 1/alpha), dropout rates
    Gamma(s, 1/beta), per month. `start`: where the search begins (a fit of similar data
    converges in fewer steps from its answer)."""

    def __init__(self, start: tuple[float, float, float, float] = (1.0, 1.0, 1.0, 10.0)):
        self.start = start

    def fit(self, X: np.ndarray, y: object = None) -> ParetoNBD:  # noqa: N803
        repeats, recency, age = np.asarray(X, dtype=float).T

        def loss(log_params: np.ndarray) -> float:
            value = -self._log_likelihood(np.exp(log_params), repeats, recency, age)
            return float(value.mean()) if np.isfinite(value).all() else 1e10

        found = minimize(loss, np.log(self.start), method="L-BFGS-B", bounds=LOG_BOUNDS)
        self.params_ = np.exp(found.x)
        return self

    @staticmethod
    def _log_a0(params: np.ndarray, x: np.ndarray, recency: np.ndarray, age: np.ndarray):
        r, alpha, s, beta = params
        if alpha < beta:
            low, high, second = alpha, beta, r + x
        else:
            low, high, second = beta, alpha, s + 1
        total = r + s + x
        at_recency, at_age = high + recency, high + age
        p1 = hyp2f1(total, second, total + 1, (high - low) / at_recency)
        p2 = hyp2f1(total, second, total + 1, (high - low) / at_age)
        signs = [np.ones_like(x), -np.ones_like(x)]
        with np.errstate(divide="ignore", invalid="ignore"):
            terms = [np.log(p1) + total * np.log(at_age), np.log(p2) + total * np.log(at_recency)]
            return logsumexp(terms, axis=0, b=signs) - total * np.log(at_recency * at_age)

    @classmethod
    def _log_likelihood(cls, params, x, recency, age) -> np.ndarray:
        r, alpha, s, beta = params
        head = gammaln(r + x) - gammaln(r) + r * np.log(alpha) + s * np.log(beta)
        with np.errstate(invalid="ignore"):
            tail = np.logaddexp(
                -(r + x) * np.log(alpha + age) - s * np.log(beta + age),
                np.log(s) + cls._log_a0(params, x, recency, age) - np.log(r + s + x),
            )
        return head + tail

    def expected_repeats(self, X: np.ndarray, t: float | np.ndarray) -> np.ndarray:  # noqa: N803
        """Each customer's expected orders in the `t` months after the cut, given its row:
        P(still active) x its posterior mean rate x its expected active months of the `t`. For
        an array of `t`, a column each (the likelihood is computed once)."""
        repeats, recency, age = np.asarray(X, dtype=float).T
        r, alpha, s, beta = self.params_
        log_active = (
            gammaln(r + repeats)
            - gammaln(r)
            + r * np.log(alpha)
            + s * np.log(beta)
            - (r + repeats) * np.log(alpha + age)
            - s * np.log(beta + age)
            - self._log_likelihood(self.params_, repeats, recency, age)
        )
        t = np.asarray(t, dtype=float)
        base = (beta + age).reshape(-1, *[1] * t.ndim)
        active_rate = np.exp(log_active) * ((r + repeats) / (alpha + age))
        return active_rate.reshape(base.shape) * _active_months(base, t, s)

    def unconditional_repeats(self, t: np.ndarray) -> np.ndarray:
        """A new customer's expected repeat orders in its first `t` months."""
        r, alpha, s, beta = self.params_
        return r / alpha * _active_months(beta, np.asarray(t, dtype=float), s)


def _active_months(base: np.ndarray | float, t: np.ndarray | float, s: float) -> np.ndarray:
    """Expected active months in the next `t` of a customer active now, whose dropout rate is
    Gamma(s, 1/base) given that: the integral of (base / (base + u))^s over u from 0 to t."""
    if abs(s - 1) < 1e-9:
        return base * np.log1p(t / base)
    return -base * np.expm1((1 - s) * np.log1p(t / base)) / (s - 1)


class SeasonalClock:
    """Months since `start` on a clock where each calendar month lasts its `season` multiplier
    (January first), so that a seasonal order rate is a constant one on the clock."""

    def __init__(self, start: pd.Timestamp, end: pd.Timestamp, season: np.ndarray):
        self.start = start
        self.edges = pd.date_range(start.to_period("M").start_time, end, freq="MS")
        days = np.asarray((self.edges - start) / pd.Timedelta(days=1), dtype=float)
        lengths = season[self.edges[:-1].month - 1] * np.diff(days) / DAYS_PER_MONTH
        self._days, self._months = days, np.concatenate([[0.0], np.cumsum(lengths)])

    def __call__(self, times) -> np.ndarray:
        days = np.asarray((pd.DatetimeIndex(times) - self.start) / pd.Timedelta(days=1), float)
        return np.interp(days, self._days, self._months)


@dataclass(frozen=True)
class Customers:
    """Every customer's orders before a cut: when it first and last ordered, how often since,
    its net revenue per order (its cancellations netted), the mean square of its orders' amounts
    and its order-value band."""

    ids: pd.Index
    first: pd.DatetimeIndex
    last: pd.DatetimeIndex
    repeats: np.ndarray
    value: np.ndarray
    square: np.ndarray
    band: np.ndarray
    revenue_last_year: float  # net revenue of the year before the cut


def customers_before(
    orders: pd.DataFrame, cut: pd.Timestamp, *, bands: int, band_customers: int
) -> Customers:
    """`orders` (customer_id, timestamp, amount, is_order: one row per invoice, cancellations
    with is_order False) before `cut`, per customer; bands of equal size by net revenue per
    order, as many as `bands` that hold at least `band_customers` each."""
    seen = orders[orders["timestamp"] < cut]
    placed = seen[seen["is_order"]].groupby("customer_id", sort=True)
    first, last = placed["timestamp"].min(), placed["timestamp"].max()
    count = placed["timestamp"].size()
    square = (seen.loc[seen["is_order"], "amount"] ** 2).groupby(seen["customer_id"]).mean()
    net = seen.groupby("customer_id")["amount"].sum().reindex(count.index)
    value = (net / count).to_numpy()
    n_bands = max(1, min(bands, len(count) // band_customers))
    rank = pd.Series(value).rank(method="first").to_numpy()
    year = seen["timestamp"] >= cut - pd.DateOffset(months=YEAR)
    return Customers(
        ids=count.index,
        first=pd.DatetimeIndex(first),
        last=pd.DatetimeIndex(last),
        repeats=(count - 1).to_numpy(dtype=float),
        value=value,
        square=square.reindex(count.index).to_numpy(),
        band=((rank - 1) * n_bands // len(count)).astype(int),
        revenue_last_year=float(seen.loc[year, "amount"].sum()),
    )


def _fit_bands(
    customers: Customers, clock: SeasonalClock, cut: pd.Timestamp, starts: list | None = None
) -> tuple[list[ParetoNBD], np.ndarray, np.ndarray]:
    """A model per band on `clock` (from the `starts` models' answers), the rows they were
    fitted to and each customer's first order on the clock."""
    born = clock(customers.first)
    rows = np.column_stack(
        [customers.repeats, clock(customers.last) - born, clock([cut])[0] - born]
    )
    bands = range(customers.band.max() + 1)
    models = [
        (ParetoNBD(tuple(starts[b].params_)) if starts else ParetoNBD()).fit(
            rows[customers.band == b]
        )
        for b in bands
    ]
    return models, rows, born


def learn_season(
    customers: Customers, orders: pd.DataFrame, cut: pd.Timestamp
) -> tuple[np.ndarray, list[ParetoNBD]]:
    """Calendar-month multipliers (mean 1): repeat orders in each month of the year over what
    an unseasonal fit expects then (months without a fair count of expected orders, or never
    seen, count 1); and that fit."""
    clock = SeasonalClock(customers.first.min(), cut, np.ones(YEAR))
    models, _, born = _fit_bands(customers, clock, cut)
    edges = clock.edges[clock.edges <= cut]
    since_birth = np.clip(clock(edges)[None, :] - born[:, None], 0, None)
    expected = np.zeros(len(edges) - 1)
    for b, model in enumerate(models):
        expected += np.diff(
            model.unconditional_repeats(since_birth[customers.band == b]), axis=1
        ).sum(axis=0)
    placed = orders[orders["is_order"] & (orders["timestamp"] < cut)]
    repeat = placed["timestamp"] > placed["customer_id"].map(
        pd.Series(customers.first, index=customers.ids)
    )
    stamps = pd.DatetimeIndex(placed.loc[repeat, "timestamp"]).as_unit("ns").asi8
    month = np.searchsorted(edges.as_unit("ns").asi8, stamps, side="right") - 1
    actual = np.bincount(month[(month >= 0) & (month < len(expected))], minlength=len(expected))
    of_year = edges[:-1].month - 1
    fair = expected > 0.02 * expected.max()
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.bincount(of_year[fair], actual[fair], YEAR) / np.bincount(
            of_year[fair], expected[fair], YEAR
        )
    season = np.where(np.isfinite(ratio) & (ratio > 0), ratio, 1.0)
    return season / season.mean(), models


def forecast_revenue(
    orders: pd.DataFrame,
    cut: pd.Timestamp,
    h: int,
    *,
    series_revenue_last_year: float,
    bands: int,
    band_customers: int,
    newcomer_window: int,
    campaigns: Calendar = NO_CAMPAIGNS,
) -> tuple[np.ndarray, np.ndarray]:
    """Net revenue of each of the `h` months from `cut`, its mean and variance: the customers
    seen before it (their expected orders x their value per order) and the newcomers (first
    orders at the mean rate of the last `newcomer_window` months, then repeats; with the bands
    and values of the last year's newcomers), scaled by the series' revenue over the customers'
    in the last year (guests' orders, which no customer's history explains). The variance is a
    compound Poisson one: each order's amount varies as the customer's have.

    With planned `campaigns`, the usual newcomers exclude the campaigns' (`_arrivals`, and
    their bands and values come from the year's others), and each month ahead adds its
    campaigns' stated new customers at their stated order value."""
    customers = customers_before(orders, cut, bands=bands, band_customers=band_customers)
    if not len(customers.ids):
        raise ValueError(f"no customer ordered before {cut.date()}")
    if customers.revenue_last_year <= 0:
        raise ValueError("no net revenue from customers in the last year")
    season, unseasonal = learn_season(customers, orders, cut)
    ahead = pd.date_range(cut, periods=h + 1, freq="MS")
    clock = SeasonalClock(customers.first.min(), ahead[-1] + pd.DateOffset(months=1), season)
    models, rows, _ = _fit_bands(customers, clock, cut, unseasonal)
    steps = clock(ahead) - clock([cut])[0]
    mean, variance = np.zeros(h), np.zeros(h)
    for b, model in enumerate(models):
        inside = customers.band == b
        expected = np.diff(model.expected_repeats(rows[inside], steps), axis=1).T.copy()
        mean += expected @ customers.value[inside]
        variance += expected @ customers.square[inside]
    # Newcomers: a month's arrivals at mid-month, each with a first order and its band's
    # repeats, at its band's value or at the value its campaign states.
    arrivals = _arrivals(customers.first, cut, h, newcomer_window, campaigns)
    stated, value_sum, square_sum = campaigns.valued(pd.period_range(cut, periods=h, freq="M"))
    young = _usual_newcomers(customers.first, cut, campaigns)
    for b, model in enumerate(models):
        joined = young & (customers.band == b)
        if not joined.any():
            continue
        share = joined.sum() / young.sum()
        value, square = customers.value[joined].mean(), customers.square[joined].mean()
        spread = square / value**2 if value else 1.0
        revenue = share * ((arrivals - stated) * value + value_sum)
        squares = share * ((arrivals - stated) * square + square_sum * spread)
        for month in range(h):
            since = np.clip(steps[month:] - (steps[month] + steps[month + 1]) / 2, 0, None)
            placed = np.r_[1.0, np.zeros(h - month - 1)] + np.diff(
                model.unconditional_repeats(since)
            )
            mean[month:] += revenue[month] * placed
            variance[month:] += squares[month] * placed
    scale = series_revenue_last_year / customers.revenue_last_year
    return mean * scale, variance * scale**2


def _arrivals(
    first: pd.DatetimeIndex, cut: pd.Timestamp, h: int, window: int, campaigns: Calendar
) -> np.ndarray:
    """New customers expected in each of the `h` months from `cut`: the usual ones, the mean
    first orders of the last `window` months less their campaigns' stated newcomers (of the
    latest `window` months without a campaign, when a campaign then does not state its count),
    plus the campaigns planned then."""
    last = (cut - pd.Timedelta(days=1)).to_period("M")
    months = pd.period_range(end=last, periods=window)
    if campaigns.unstated().share(months).any():
        usual = campaigns.usual(pd.period_range(first.min().to_period("M"), last, freq="M"))
        months = usual[-window:] if len(usual) else months
    joined = first.to_period("M").isin(months).sum() - campaigns.new_customers(months).sum()
    ahead = pd.period_range(cut.to_period("M"), periods=h, freq="M")
    return max(joined, 0.0) / len(months) + campaigns.new_customers(ahead)


def _usual_newcomers(first: pd.DatetimeIndex, cut: pd.Timestamp, campaigns: Calendar) -> np.ndarray:
    """The customers whose first orders, in the year before `cut`, show what a usual newcomer
    is like: those who did not join in a campaign (all of the year's, if every one did)."""
    young = np.asarray(first >= cut - pd.DateOffset(months=YEAR))
    usual = young & ~campaigns.during(first)
    return usual if usual.any() else young

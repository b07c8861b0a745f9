"""The candidate models behind one interface: a `Model` is called with the `History` it may see
at an origin and returns its `Forecast` of the `settings.horizon` months after it.

A history is the monthly net revenue up to the origin, oldest first (its latest
`settings.fit_window` months), with the series' other views for the models that read more: the
weekly series (`weekly_ets`), or each customer's orders (`customer_base`, which forecasts the
customers rather than the sum), each cut at the origin when read. A model with its own intervals
returns their bounds at `settings.level`; the others leave them to the backtest's errors. A model
that cannot fit a history raises `ModelFitError` saying why, which its backtest row reports.
"""

from __future__ import annotations

import math
import warnings
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from sklearn.linear_model import Ridge

from leadsift.customers.forecast.calendar import Calendar
from leadsift.customers.forecast.customer_base import forecast_revenue
from leadsift.customers.forecast.series import Views, weeks_until

SEASON = 12  # months


@dataclass(frozen=True)
class Forecast:
    mean: np.ndarray
    lower: np.ndarray | None = None  # None: intervals come from backtest errors
    upper: np.ndarray | None = None


@dataclass(frozen=True)
class Settings:
    """The forecast's settings, every one from the params (`from_params`)."""

    horizon: int
    origins: int
    level: float
    min_interval_errors: int  # fewer backtest errors: no interval
    metric: str  # mase | mae | smape
    mean_window: int
    ridge_alpha: float
    models: tuple[str, ...]
    fit_window: int | None  # the latest months a model fits on (None: all)
    value_bands: int  # customer_base: bands of average order value, a model each
    band_customers: int  # customer_base: fewest customers a band is fitted on
    newcomer_window: int  # customer_base: months whose mean first orders continue
    n_jobs: int  # series forecast at once, each in its own process
    campaigns: Calendar  # planned campaigns (known future events)

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> Settings:
        """The `forecast` knobs (params.yaml) and the `forecast_setup` (config.yaml)."""
        knobs, setup = params["forecast"], params["forecast_setup"]
        return cls(
            horizon=knobs["horizon"],
            origins=setup["origins"],
            level=setup["level"],
            min_interval_errors=setup["min_interval_errors"],
            metric=knobs["metric"],
            mean_window=setup["mean_window"],
            ridge_alpha=setup["ridge_alpha"],
            models=tuple(setup["models"]),
            fit_window=setup["fit_window"],
            value_bands=setup["value_bands"],
            band_customers=setup["band_customers"],
            newcomer_window=setup["newcomer_window"],
            n_jobs=setup["n_jobs"],
            campaigns=Calendar.from_params(setup["campaigns"]),
        )


class ModelFitError(Exception):
    """A model that could not fit this history (the reason goes in its backtest row)."""


@dataclass(frozen=True)
class History:
    """What a model may see at an origin: the monthly revenue up to it (`revenue`, oldest first,
    of `months`), the settings, and the series' other views, cut at the origin when read."""

    revenue: np.ndarray
    months: pd.PeriodIndex
    settings: Settings
    views: Views

    @classmethod
    def fit_on(
        cls, revenue: np.ndarray, months: pd.PeriodIndex, settings: Settings, views: Views
    ) -> History:
        """The history a model fits on: the latest `settings.fit_window` months (all if None)."""
        if settings.fit_window and len(revenue) > settings.fit_window:
            revenue, months = revenue[-settings.fit_window :], months[-settings.fit_window :]
        return cls(revenue, months, settings, views)

    @property
    def horizon(self) -> int:
        return self.settings.horizon

    @property
    def ahead(self) -> pd.PeriodIndex:
        """The months to forecast."""
        return pd.period_range(self.months[-1] + 1, periods=self.horizon, freq="M")

    def weeks(self) -> pd.Series:
        """The weekly revenue of the weeks that end by the origin, from the first month on."""
        if why := self.views.missing(weekly=True, per_customer=False):
            raise ModelFitError(why)
        cut = weeks_until(self.views.weeks, self.months[-1])
        return cut[cut.index.start_time >= self.months[0].start_time]

    def orders(self) -> pd.DataFrame:
        """The customers' orders from the first month on, none before the fit window (the
        model cuts them at the origin itself)."""
        if why := self.views.missing(weekly=False, per_customer=True):
            raise ModelFitError(why)
        orders = self.views.orders
        return orders[orders["timestamp"] >= self.months[0].start_time]


@dataclass(frozen=True)
class Model(ABC):
    """A candidate: called with the `History` it may see at an origin, it forecasts the months
    after it."""

    seasonal: bool = False  # reads last year's months: needs two full seasons
    min_history: ClassVar[int] = 3  # months to fit on at an origin
    weekly: ClassVar[bool] = False  # reads the weekly series
    per_customer: ClassVar[bool] = False  # reads the customers' orders

    @abstractmethod
    def __call__(self, history: History) -> Forecast:
        """The forecast of the `history.horizon` months after the last of `history.months`."""

    @property
    def months_needed(self) -> int:
        """Months it needs to fit on at an origin."""
        return max(self.min_history, 2 * SEASON if self.seasonal else 0)

    def unfit(self, months: int, views: Views) -> str | None:
        """Why it cannot run at an origin with `months` months to fit on and these `views`, if
        it cannot."""
        if months < self.months_needed:
            return f"needs {self.months_needed} months to fit on, has {months}"
        return views.missing(weekly=self.weekly, per_customer=self.per_customer)


def _log(y: np.ndarray, period: str = "monthly") -> np.ndarray:
    if (y < 0).any():
        raise ModelFitError(f"negative {period} revenue: no log scale")
    return np.log1p(y)


class Naive(Model):
    """The last month again; seasonal: the same months a year before."""

    min_history = 1

    def __call__(self, history: History) -> Forecast:
        y, h = history.revenue, history.horizon
        if self.seasonal:
            return Forecast(y[-SEASON:][np.arange(h) % SEASON])
        return Forecast(np.repeat(y[-1], h))


class WindowMean(Model):
    """The mean of the last `settings.mean_window` months."""

    min_history = 1

    def __call__(self, history: History) -> Forecast:
        window = history.revenue[-history.settings.mean_window :]
        return Forecast(np.repeat(window.mean(), history.horizon))


def _statsmodels(
    fit: Callable[[], Any], h: int, level: float, n: int, exog: np.ndarray | None = None
) -> Forecast:
    """Fit on the log scale; a convergence warning counts as a failure (the row says so).
    `exog`: the regressors of the `h` months ahead, for a model fitted with them."""
    from statsmodels.tools.sm_exceptions import ConvergenceWarning  # noqa: PLC0415

    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        warnings.simplefilter("ignore", UserWarning)
        try:
            result = fit()
        except ConvergenceWarning as err:
            raise ModelFitError(f"did not converge ({str(err).splitlines()[0]})") from err
        except (ValueError, np.linalg.LinAlgError) as err:
            raise ModelFitError(str(err).splitlines()[0]) from err
    prediction = result.get_prediction(start=n, end=n + h - 1, exog=exog)
    frame = prediction.summary_frame(alpha=1 - level)
    lower, upper = (
        ("pi_lower", "pi_upper") if "pi_lower" in frame else ("mean_ci_lower", "mean_ci_upper")
    )
    back = np.expm1
    return Forecast(
        back(frame["mean"].to_numpy()), back(frame[lower].to_numpy()), back(frame[upper].to_numpy())
    )


def _ets(log_values: np.ndarray, h: int, level: float, seasonal: bool) -> Forecast:
    """Exponential smoothing with a damped additive trend (seasonal: additive) of log revenue."""
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel  # noqa: PLC0415

    z = pd.Series(log_values)  # its prediction frame needs an index
    model = ETSModel(
        z,
        error="add",
        trend="add",
        damped_trend=True,
        seasonal="add" if seasonal else None,
        seasonal_periods=SEASON if seasonal else None,
        initialization_method="heuristic" if seasonal else "estimated",
    )
    return _statsmodels(lambda: model.fit(disp=False), h, level, len(z))


class ETS(Model):
    """Exponential smoothing with a damped additive trend on log revenue (seasonal: additive)."""

    min_history = 6

    def __call__(self, history: History) -> Forecast:
        z = _log(history.revenue)
        return _ets(z, history.horizon, history.settings.level, self.seasonal)


class ARIMA(Model):
    """ARIMA(1,1,0) with drift on log revenue; seasonal: the airline model (0,1,1)(0,1,1)12.
    With planned campaigns, their share of each month is a regressor (SARIMAX), once the
    history has months with and without one to learn its effect from."""

    min_history = 6

    def __call__(self, history: History) -> Forecast:
        from statsmodels.tsa.arima import model as arima  # noqa: PLC0415

        z = _log(history.revenue)
        calendar = history.settings.campaigns
        seen = calendar.share(history.months)
        learnable = np.ptp(seen) > 0
        exog, ahead = (
            (seen[:, None], calendar.share(history.ahead)[:, None]) if learnable else (None, None)
        )
        if self.seasonal:
            model = arima.ARIMA(z, exog, order=(0, 1, 1), seasonal_order=(0, 1, 1, SEASON))
        else:
            model = arima.ARIMA(z, exog, order=(1, 1, 0), trend="t")
        return _statsmodels(model.fit, history.horizon, history.settings.level, len(z), ahead)


class LagRegression(Model):
    """Ridge regression of the log growth over the next `step` months (one model per step) on
    recent growth, the target month's calendar position and, with two seasons, last year's growth
    over the same months."""

    min_history = 8

    def __call__(self, history: History) -> Forecast:
        z, seasonal = _log(history.revenue), self.seasonal
        first_month = history.months[0].month - 1
        start = SEASON if seasonal else 3

        def features(t: int, step: int) -> list[float]:
            angle = 2 * math.pi * ((first_month + t + step) % SEASON) / SEASON
            row = [z[t] - z[t - 1], z[t] - z[t - 3], math.sin(angle), math.cos(angle)]
            return row + ([z[t + step - SEASON] - z[t - SEASON]] if seasonal else [])

        mean = []
        for step in range(1, history.horizon + 1):
            rows = range(start, len(z) - step)
            if len(rows) < 3:
                raise ModelFitError(f"too few months for step {step}")
            fit = Ridge(alpha=history.settings.ridge_alpha).fit(
                np.array([features(t, step) for t in rows]), [z[t + step] - z[t] for t in rows]
            )
            mean.append(z[-1] + fit.predict(np.array([features(len(z) - 1, step)]))[0])
        return Forecast(np.expm1(np.array(mean)))


class WeeklyETS(Model):
    """`ETS` on weekly revenue (the weeks that end by the origin), each forecast week spread
    evenly over its days and the days summed into the months ahead. Its weekly intervals do not
    add up to monthly ones, so its intervals come from the backtest errors."""

    min_history = 6
    weekly = True

    def __call__(self, history: History) -> Forecast:
        weeks, ahead = history.weeks(), history.ahead
        days = pd.period_range(ahead[0].start_time, ahead[-1].end_time, freq="D")
        step = np.asarray((days.asfreq("W") - weeks.index[-1]).map(lambda offset: offset.n))
        z = _log(weeks.to_numpy(dtype=float), "weekly")
        weekly = _ets(z, int(step.max()), history.settings.level, seasonal=False)
        daily = weekly.mean[step - 1] / 7
        month = np.asarray((days.asfreq("M") - ahead[0]).map(lambda offset: offset.n))
        return Forecast(np.bincount(month, weights=daily, minlength=history.horizon))


class CustomerBase(Model):
    """Each customer's expected orders and value per order, plus the newcomers
    (`customer_base.forecast_revenue`), from the orders before the origin; its intervals are
    normal on the log scale with the compound Poisson variance of the orders' amounts."""

    min_history = SEASON
    per_customer = True

    def __call__(self, history: History) -> Forecast:
        from scipy.stats import norm  # noqa: PLC0415

        settings = history.settings
        try:
            mean, variance = forecast_revenue(
                history.orders(),
                history.ahead[0].start_time,
                history.horizon,
                series_revenue_last_year=float(history.revenue[-SEASON:].sum()),
                bands=settings.value_bands,
                band_customers=settings.band_customers,
                newcomer_window=settings.newcomer_window,
                campaigns=settings.campaigns,
            )
        except ValueError as err:
            raise ModelFitError(str(err)) from err
        if not (np.isfinite(mean).all() and (mean > 0).all()):
            raise ModelFitError("the customers' model gave no positive forecast")
        spread = norm.ppf((1 + settings.level) / 2) * np.sqrt(variance) / mean
        return Forecast(mean, mean * np.exp(-spread), mean * np.exp(spread))


CANDIDATES: dict[str, Model] = {
    "naive": Naive(),
    "seasonal_naive": Naive(seasonal=True),
    "mean": WindowMean(),
    "ets": ETS(),
    "ets_seasonal": ETS(seasonal=True),
    "arima": ARIMA(),
    "sarima": ARIMA(seasonal=True),
    "lag_regression": LagRegression(),
    "lag_regression_seasonal": LagRegression(seasonal=True),
    "weekly_ets": WeeklyETS(),
    "customer_base": CustomerBase(),
}

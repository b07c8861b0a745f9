"""Planned campaigns: events known before they happen, which a forecast may use
(`forecast_setup.campaigns` in config.yaml).

No history before a campaign shows it, so a forecaster of the history alone cannot foresee it;
a forecast is judged against the best one given the same information (with the calendar, the
expectation that knows the campaign). Each campaign states its dates and, when known, how many new
customers it is expected to bring and what their orders are worth. `customer_base` adds those
newcomers to the usual ones, which it counts without the campaigns' own; `arima` and `sarima`
take the campaign's share of each month as a regressor once their history has months with and
without one."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

DAY = pd.Timedelta(days=1)


@dataclass(frozen=True)
class Campaign:
    name: str
    start: pd.Timestamp  # its first day
    end: pd.Timestamp  # its last day
    new_customers: float | None  # expected new customers it brings; None: not known
    order_value: float | None  # expected net value of their orders; None: as other newcomers'

    def days_in(self, months: pd.PeriodIndex) -> np.ndarray:
        """The campaign's days in each of `months`."""
        low = np.maximum(months.start_time, self.start)
        high = np.minimum(months.end_time.normalize() + DAY, self.end + DAY)
        return np.clip(np.asarray((high - low) / DAY, dtype=float), 0, None)

    def __str__(self) -> str:
        count = "new customers not stated"
        if self.new_customers is not None:
            count = f"{self.new_customers:,.0f} new customers"
            if self.order_value is not None:
                count += f" at {self.order_value:,.2f} an order"
        return f"{self.name}, {self.start.date()} to {self.end.date()}: {count}"

    def arrivals(self, months: pd.PeriodIndex) -> np.ndarray:
        """Its expected new customers in each of `months`, spread evenly over its days."""
        days = (self.end - self.start) / DAY + 1
        return self.days_in(months) / days * (self.new_customers or 0.0)


@dataclass(frozen=True)
class Calendar:
    """The planned campaigns, past and future (the past ones tell the usual months apart)."""

    campaigns: tuple[Campaign, ...] = ()

    @classmethod
    def from_params(cls, entries: Sequence[Mapping[str, Any]]) -> Calendar:
        """The config's list (checked by `param_rules.CAMPAIGNS`); empty: no calendar."""
        return cls(
            tuple(
                Campaign(
                    name=e["name"],
                    start=pd.Timestamp(str(e["start"])),
                    end=pd.Timestamp(str(e["end"])),
                    new_customers=e.get("new_customers"),
                    order_value=e.get("order_value"),
                )
                for e in entries
            )
        )

    def __bool__(self) -> bool:
        return bool(self.campaigns)

    def share(self, months: pd.PeriodIndex) -> np.ndarray:
        """The share of each month's days under a campaign: the regressor of `arima`."""
        covered = sum((c.days_in(months) for c in self.campaigns), np.zeros(len(months)))
        return np.minimum(covered / np.asarray(months.days_in_month, dtype=float), 1.0)

    def new_customers(self, months: pd.PeriodIndex) -> np.ndarray:
        """The campaigns' expected new customers in each month, spread evenly over their days (a
        campaign of unknown count adds none)."""
        return sum((c.arrivals(months) for c in self.campaigns), np.zeros(len(months)))

    def valued(self, months: pd.PeriodIndex) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Of those, the ones whose campaigns state their order value, in each month: how many,
        and the sum of their order values and of their squares."""
        stated = [
            (c.arrivals(months), c.order_value) for c in self.campaigns if c.order_value is not None
        ]
        count, values, squares = (
            sum((n * v**power for n, v in stated), np.zeros(len(months))) for power in (0, 1, 2)
        )
        return count, values, squares

    def unstated(self) -> Calendar:
        """The campaigns whose count of new customers is not stated."""
        return Calendar(tuple(c for c in self.campaigns if c.new_customers is None))

    def during(self, stamps: pd.DatetimeIndex) -> np.ndarray:
        """Whether each of `stamps` falls in a campaign."""
        inside = np.zeros(len(stamps), dtype=bool)
        for c in self.campaigns:
            inside |= np.asarray((stamps >= c.start) & (stamps < c.end + DAY))
        return inside

    def usual(self, months: pd.PeriodIndex) -> pd.PeriodIndex:
        """Those of `months` without a campaign day."""
        return months[self.share(months) == 0]


NO_CAMPAIGNS = Calendar()

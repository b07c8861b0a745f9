"""The series a revenue forecast reads: net revenue by month (the series every model is scored
on) and by week, in total, per segment and the guests', and each customer's orders."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from leadsift.core.io import InputError

TOTAL, GUESTS = "total", "guests"


def revenue_table(
    lines: pd.DataFrame, segments: pd.Series, freq: str = "M"
) -> tuple[pd.DataFrame, list[str]]:
    """Net revenue per calendar period (`M`: months, `W`: weeks, Monday to Sunday): `total`, each
    segment's (by `segments`, customer id -> segment name) and the guests'. Periods without a
    line are zeros. A last period the data do not reach the end of is partial and dropped, with a
    note."""
    notes = []
    period = lines["timestamp"].dt.to_period(freq)
    group = lines["customer_id"].map(segments).astype(object)
    group = group.where(lines["customer_id"].notna(), GUESTS).fillna("unsegmented")
    table = (
        lines.assign(period=period, group=group)
        .pivot_table(index="period", columns="group", values="amount", aggfunc="sum", sort=True)
        .reindex(pd.period_range(period.min(), period.max(), freq=freq))
        .fillna(0.0)
    )
    table.insert(0, TOTAL, table.sum(axis=1))
    last_day = lines["timestamp"].max().normalize()
    if last_day < table.index[-1].end_time.normalize():
        notes.append(f"{table.index[-1]} is partial (the data end on {last_day.date()}): left out")
        table = table.iloc[:-1]
    table.index.name = "month" if freq == "M" else "week"
    return table, notes


def monthly_revenue(lines: pd.DataFrame, segments: pd.Series) -> tuple[pd.DataFrame, list[str]]:
    """`revenue_table` by calendar month: the series every model is scored on."""
    return revenue_table(lines, segments, "M")


def weekly_revenue(lines: pd.DataFrame, segments: pd.Series) -> pd.DataFrame:
    """`revenue_table` by week, for the models that read weeks (a partial last week is dropped
    silently: the monthly series' note covers the end of the data)."""
    return revenue_table(lines, segments, "W")[0]


def customer_orders(lines: pd.DataFrame, segments: pd.Series) -> pd.DataFrame:
    """One row per customer invoice: customer_id, its segment (`group`), timestamp, net amount
    and whether it is an order (a cancellation is not). Guests' invoices have no customer."""
    known = lines[lines["customer_id"].notna()]
    invoices = known.groupby("invoice", sort=False).agg(
        customer_id=("customer_id", "first"),
        timestamp=("timestamp", "min"),
        amount=("amount", "sum"),
        cancellation=("cancellation", "first"),
    )
    return pd.DataFrame(
        {
            "customer_id": invoices["customer_id"].to_numpy(),
            "group": invoices["customer_id"].map(segments).fillna("unsegmented").to_numpy(),
            "timestamp": invoices["timestamp"].to_numpy(),
            "amount": invoices["amount"].to_numpy(),
            "is_order": ~invoices["cancellation"].to_numpy(dtype=bool),
        }
    )


def weeks_until(weeks: pd.Series, month: pd.Period) -> pd.Series:
    """The weeks that end by the end of `month`: what a forecast from that month may read."""
    return weeks[weeks.index.end_time <= month.end_time]


def require_history(series: pd.Series, min_periods: int, source: str) -> None:
    """A forecast needs `min_periods` months; fewer is an input problem (exit 2)."""
    if len(series) < min_periods:
        found = f"{series.index[0]} to {series.index[-1]}" if len(series) else "none"
        raise InputError(
            f"{source}: {len(series)} full month(s) of revenue ({found}); the forecast needs at "
            f"least forecast_setup.min_periods = {min_periods}. Give a longer export or lower "
            "forecast_setup.min_periods in config.yaml"
        )


@dataclass(frozen=True)
class Views:
    """A series' other views, for the models that read more than its months."""

    weeks: pd.Series | None = None  # the same revenue by week
    orders: pd.DataFrame | None = None  # its customers' invoices (`customer_orders`)

    def missing(self, *, weekly: bool, per_customer: bool) -> str | None:
        """What a model that reads the weeks (`weekly`) or the orders (`per_customer`) lacks
        here, if anything."""
        if weekly and self.weeks is None:
            return "needs the weekly series"
        if per_customer and (self.orders is None or not len(self.orders)):
            return "needs its customers' orders (a series of customers, with their ids)"
        return None


@dataclass(frozen=True)
class Revenue:
    """A shop's net revenue every way the forecast reads it: by month (`total` first, then each
    segment's and the guests'), by week, its customers' orders, and what was left out of it."""

    monthly: pd.DataFrame
    weekly: pd.DataFrame | None = None  # the same columns by week
    orders: pd.DataFrame | None = None  # `customer_orders`
    notes: tuple[str, ...] = ()  # e.g. a partial last month, left out

    def views(self, name: str) -> Views:
        """The other views of series `name`: its weeks and its customers' orders (all of them
        for the total)."""
        orders = self.orders
        if orders is not None and name != TOTAL:
            orders = orders[orders["group"] == name]
        return Views(weeks=None if self.weekly is None else self.weekly[name], orders=orders)


def shop_revenue(
    lines: pd.DataFrame, segments: pd.Series, *, min_periods: int, source: str
) -> Revenue:
    """The `Revenue` of clean transaction `lines` (customer_id, invoice, timestamp, amount,
    cancellation) by `segments` (customer id -> segment name), which must hold `min_periods`
    full months (`require_history`; `source` names the lines in the error)."""
    monthly, notes = monthly_revenue(lines, segments)
    require_history(monthly[TOTAL], min_periods, source)
    return Revenue(
        monthly,
        weekly=weekly_revenue(lines, segments),
        orders=customer_orders(lines, segments),
        notes=tuple(notes),
    )

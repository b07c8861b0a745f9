"""Point-in-time features of each click, defined once as window SQL that any engine runs.

The rule for the past is one: a click sees the clicks whose `click_time`, to the second, is
strictly earlier than its own. Clicks of the same second do not see each other, whatever order
the rows are stored in, so the features are the same on any engine and for any storage order
(RANGE frames on whole seconds, `... PRECEDING AND 1 PRECEDING`, leave out the click's own second;
no feature depends on the order of ties). Outcomes arrive late: an install counts once it is
known, and the install rates are those known at the start of the click's day (UTC), as a daily
job publishes them; so a later day scored before its own installs are known sees the rates it
would see live.

Counts keep the same meaning on every day of any log: trailing windows, or counts since the start
of the click's day. Counts since the log began would grow with its length, and a model trained on
its first days would read later days' larger values wrongly. A rate is a ratio: over all the days
before, it only grows more precise.

- `Count`: the key's clicks in a trailing window (a minute, an hour, a day), or today so far;
- `SinceLast`: seconds since the key's previous click within a day;
- `DistinctToday`: distinct values of a column seen with the key today so far (its first click
  of the day with each value, counted: `COUNT(DISTINCT) OVER` is not standard window SQL);
- `RateBefore`: the key's installs known at the start of the click's day over its clicks on the
  days before, from a daily summary joined back.

The leaky features (`LEAKY`: the next click of the same user and app, whole-day counts) look ahead
on purpose; they exist to measure what such features are worth, never to train the served model.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

DAY, HOUR = 86_400, 3_600
USER_APP = ("ip", "app", "device", "os")  # a user (ip, device, os) on one app
KEYS = {
    "ip": ("ip",),
    "ip_app": ("ip", "app"),
    "user_app": USER_APP,
    "app_channel": ("app", "channel"),
}
WINDOWS = {"1m": 60, "1h": HOUR, "1d": DAY}
CATEGORICAL = ("app", "device", "os", "channel")  # the key levels the model reads
LEVELS = ("ip", *CATEGORICAL)
# What the prepared clicks hold (leadsift.clicks.cleaning): `t` and `attributed_t` are whole
# seconds since 1970-01-01 UTC; unlabelled clicks have no `is_attributed`
COLUMNS = ("click_id", *LEVELS, "t", "attributed_t", "is_attributed")


def day_of(seconds: str = "t") -> str:
    """The day number (whole days since 1970-01-01, UTC) of epoch seconds."""
    return f"CAST(FLOOR({seconds} / {DAY}) AS INTEGER)"


def hour_of_day(seconds: str = "t") -> str:
    return f"CAST(FLOOR(({seconds} % {DAY}) / {HOUR}) AS INTEGER)"


def _frame(key: Sequence[str], start: str = "UNBOUNDED PRECEDING") -> str:
    """The window of a key's strict past: its rows at earlier whole seconds, `start` back."""
    return f"PARTITION BY {', '.join(key)} ORDER BY t RANGE BETWEEN {start} AND 1 PRECEDING"


@dataclass(frozen=True)
class Count:
    """The key's clicks in the last `seconds`, strictly before the click (None: today so far)."""

    name: str
    key: tuple[str, ...]
    seconds: int | None = None

    def sql(self, probed: bool = False) -> str:
        """The count; `probed`: the key's clicks before the click's second, from which
        `probes_sql`'s reading is subtracted."""
        if self.seconds is None:
            return f"COUNT(*) OVER ({_frame((*self.key, 'day'))})"
        start = "UNBOUNDED PRECEDING" if probed else f"{self.seconds} PRECEDING"
        return f"COUNT(*) OVER ({_frame(self.key, start)})"


def probes_sql(clicks: str, key: tuple[str, ...], seconds: Sequence[int]) -> str:
    """Per click, for each `s` of `seconds`: the key's clicks at or before `t - s - 1`
    (`earlier_<s>`), read by probe rows placed at those times among the key's clicks (a time's
    clicks before its probes) as a running sum.

    Less from the key's clicks before the click's second, that is the trailing count. Spark
    re-aggregates a sliding frame at every row, which costs the frame's rows at every click (a
    busy key has thousands a day); running sums and a join are linear on any engine."""
    columns = ", ".join(key)
    rows = " UNION ALL ".join(
        [f"SELECT {columns}, t AS moment, 0 AS probe, 0 AS s, click_id FROM {clicks}"]
        + [f"SELECT {columns}, t - {s + 1}, 1, {s}, click_id FROM {clicks}" for s in seconds]
    )
    running = f"PARTITION BY {columns} ORDER BY moment, probe ROWS UNBOUNDED PRECEDING"
    pivot = ", ".join(f"MAX(CASE WHEN s = {s} THEN earlier END) AS earlier_{s}" for s in seconds)
    return (
        f"SELECT click_id, {pivot} FROM (SELECT click_id, probe, s, SUM(1 - probe) OVER "
        f"({running}) AS earlier FROM ({rows})) WHERE probe = 1 GROUP BY click_id"
    )


@dataclass(frozen=True)
class SinceLast:
    """Seconds since the key's previous click within the last `seconds` (missing if none: a key
    idle longer is new again, so an online scorer forgets it after that long)."""

    name: str
    key: tuple[str, ...]
    seconds: int = DAY

    def sql(self) -> str:
        # the key's last earlier second, kept if within `seconds`: a running MAX, which Spark
        # keeps as it goes, where it would re-aggregate a sliding frame of a day at every click
        gap = f"t - MAX(t) OVER ({_frame(self.key)})"
        return f"CAST(CASE WHEN {gap} <= {self.seconds} THEN {gap} END AS DOUBLE)"


@dataclass(frozen=True)
class DistinctToday:
    """Distinct values of `of` among the key's clicks today so far."""

    name: str
    key: tuple[str, ...]
    of: str

    @property
    def first(self) -> str:
        return f"first_{self.name}"

    def first_sql(self) -> str:
        """1 on the day's first click (by time, then id) of each (key, value), else 0."""
        order = f"PARTITION BY {', '.join([*self.key, self.of])}, day ORDER BY t, click_id"
        return f"CASE WHEN ROW_NUMBER() OVER ({order}) = 1 THEN 1 ELSE 0 END"

    def sql(self) -> str:
        return f"COALESCE(SUM({self.first}) OVER ({_frame((*self.key, 'day'))}), 0)"


@dataclass(frozen=True)
class RateBefore:
    """The key's installs known at the start of the click's day (attributed before it) over its
    clicks on the days before; missing on the key's first day."""

    name: str
    key: tuple[str, ...]

    def daily_sql(self, clicks: str) -> str:
        """Per key and day: its clicks that day and its installs attributed that day."""
        key = ", ".join(self.key)
        return (
            f"SELECT {key}, day, SUM(clicks) AS clicks, SUM(installs) AS installs FROM ("
            f"SELECT {key}, {day_of()} AS day, 1 AS clicks, 0 AS installs FROM {clicks} UNION ALL "
            f"SELECT {key}, {day_of('attributed_t')}, 0, 1 FROM {clicks} "
            f"WHERE attributed_t IS NOT NULL) GROUP BY {key}, day"
        )

    def summary_sql(self, clicks: str) -> str:
        """Per key and day: the rate its clicks of that day read (each day a row, in order, so
        the frame ends at the day before)."""
        key = ", ".join(self.key)
        before = f"PARTITION BY {key} ORDER BY day ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING"
        return (
            f"SELECT {key}, day, CAST(SUM(installs) OVER ({before}) AS DOUBLE) / "
            f"NULLIF(SUM(clicks) OVER ({before}), 0) AS {self.name} FROM ({self.daily_sql(clicks)})"
        )


Feature = Count | SinceLast | DistinctToday | RateBefore

POINT_IN_TIME: tuple[Feature, ...] = (
    *(Count(f"n_{k}_{w}", key, s) for k, key in KEYS.items() for w, s in WINDOWS.items()),
    Count("n_ip_today", KEYS["ip"]),
    Count("n_user_app_today", USER_APP),
    SinceLast("gap_user_app", USER_APP),
    SinceLast("gap_ip_app", KEYS["ip_app"]),
    DistinctToday("apps_per_ip_today", ("ip",), "app"),
    DistinctToday("channels_per_ip_today", ("ip",), "channel"),
    RateBefore("rate_channel", ("channel",)),
    RateBefore("rate_app", ("app",)),
)


@dataclass(frozen=True)
class Ahead:
    """A feature that looks past the click (leaky on purpose): any window SQL over the clicks."""

    name: str
    window: str

    def sql(self) -> str:
        return self.window


_USER_APP = ", ".join(USER_APP)
LEAKY: tuple[Ahead, ...] = (
    Ahead("next_user_app", f"LEAD(t) OVER (PARTITION BY {_USER_APP} ORDER BY t, click_id) - t"),
    Ahead("day_user_app", f"COUNT(*) OVER (PARTITION BY {_USER_APP}, day)"),
    Ahead("day_ip", "COUNT(*) OVER (PARTITION BY ip, day)"),
)


def day_name(day: int) -> str:
    """A day number as its date, e.g. 17479 -> "2017-11-09"."""
    return str(dt.date(1970, 1, 1) + dt.timedelta(days=int(day)))


def feature_names(features: Sequence[Feature | Ahead] = POINT_IN_TIME) -> list[str]:
    """The columns a model reads: the key levels, the hour of day, then `features`."""
    return [*CATEGORICAL, "hour", *(f.name for f in features)]


def may_be_missing(features: Sequence[Feature] = POINT_IN_TIME) -> list[str]:
    """The features a click may lack: a key's first gap, a level's rate on its first day."""
    return [f.name for f in features if isinstance(f, SinceLast | RateBefore)]


def nullable(value: str, name: str) -> str:
    """`value` AS `name`, written as a nullable column whatever the engine knows of it: DuckDB
    writes a column whose statistics rule out nulls as required, so without this the file's
    schema would depend on the data and on the engine that wrote it."""
    return f"CASE WHEN {value} IS NULL THEN NULL ELSE {value} END AS {name}"


def features_sql(
    clicks: str, features: Sequence[Feature | Ahead] = POINT_IN_TIME, *, probes: bool = False
) -> str:
    """Every click of `clicks` (a table name or expression with COLUMNS) with its label, day and
    the features, in click_id order. `probes`: trailing counts by `probes_sql` (for Spark), the
    same integers as the frames DuckDB aggregates incrementally."""
    firsts = [f for f in features if isinstance(f, DistinctToday)]
    rates = [f for f in features if isinstance(f, RateBefore)]
    windows = [f for f in features if not isinstance(f, RateBefore)]
    probed = [f for f in features if probes and isinstance(f, Count) and f.seconds is not None]
    keys = {f.key: "probes_" + "_".join(f.key) for f in probed}
    dated = f"(SELECT *, {day_of()} AS day FROM {clicks})"
    marked = ", ".join(["*", *(f"{f.first_sql()} AS {f.first}" for f in firsts)])
    columns = ",\n  ".join(
        f"{f.sql(f in probed) if isinstance(f, Count) else f.sql()} AS {f.name}" for f in windows
    )
    parts = [f"marked AS (SELECT {marked} FROM {dated})"]
    parts += [f"{f.name} AS ({f.summary_sql(clicks)})" for f in rates]
    for key, name in keys.items():
        seconds = sorted({f.seconds for f in probed if f.key == key and f.seconds})
        parts.append(f"{name} AS ({probes_sql(clicks, key, seconds)})")
    parts.append(
        f"windowed AS (SELECT click_id, day, t, is_attributed, {', '.join(LEVELS)}, "
        f"{hour_of_day()} AS hour,\n  {columns}\nFROM marked)"
    )
    joins = "".join(
        f"\nLEFT JOIN {f.name} ON " + " AND ".join(f"{f.name}.{c} = w.{c}" for c in (*f.key, "day"))
        for f in rates
    ) + "".join(f"\nJOIN {name} ON {name}.click_id = w.click_id" for name in keys.values())

    def value(f: Feature | Ahead) -> str:
        if f in rates:
            return f"{f.name}.{f.name}"
        if f in probed:
            return f"w.{f.name} - {keys[f.key]}.earlier_{f.seconds}"
        return f"w.{f.name}"

    chosen = ", ".join(
        nullable(column, name)
        for column, name in [(f"w.{c}", c) for c in ("click_id", "day", "t", "is_attributed")]
        + [(f"w.{n}", n) for n in feature_names(())]
        + [(value(f), f.name) for f in features]
    )
    return f"WITH {', '.join(parts)}\nSELECT {chosen}\nFROM windowed w{joins}\nORDER BY w.click_id"

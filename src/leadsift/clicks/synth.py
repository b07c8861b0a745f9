"""Seeded generator of an ad-click log shaped like TalkingData's AdTracking data, with its truth.

Every click's probability of conversion, `p_true`, depends only on what an online model can know
at the click: its key levels (app, channel, os, device), its hour of day, and the clicks of its
key (ip, app, device, os) in the hour before it, strictly earlier to the second (same-second
clicks do not see each other). ROC-AUC of `p_true` is therefore the ceiling of any online model
(`leadsift.clicks.world.logit` has the formula).

Conversion is drawn click by click, and a user who installs an app stops clicking its ads: every
click of a key after its first attributed click (in click_id order) is never logged. Features
that look ahead (the next click of the key, whole-day counts) then leak the label, as in the
competition, while `p_true` stays exact: dropping a key's later clicks leaves the past of every
logged click unchanged, so counts computed over all drawn clicks equal counts over the log.

The log is generated hour by hour in time order, with bounded memory however long it is: the
clicks of sessions that run past an hour's end are carried to the next hours, the previous
hour's logged clicks are the window's context, and the keys that converted are carried along.
Click ids are assigned when an hour is final, in order of (click_time, a seeded tiebreak).

Two seeds play the usual roles: the world seed fixes the world (key levels, popularity,
effects, users and their ip, device and os); the sample seed draws the clicks. The log's days
are followed by `incoming_days` of the same process, the later days a pipeline scores.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, fields, replace
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from leadsift.clicks import world as w
from leadsift.clicks.world import ClickWorld
from leadsift.core.io import InputError, atomic_path

log = logging.getLogger("leadsift.clicks.generate")

LOG_SCHEMA = pa.schema(
    [
        ("click_id", pa.int64()),
        *((name, pa.int32()) for name in ("ip", "app", "device", "os", "channel")),
        ("click_time", pa.timestamp("ms")),  # whole seconds; Parquet has no unit of seconds
        ("attributed_time", pa.timestamp("ms")),
        ("is_attributed", pa.int8()),
    ]
)
TRUTH_SCHEMA = pa.schema([("click_id", pa.int64()), ("p_true", pa.float64())])
KEY = ["ip", "app", "device", "os"]
TARGET_RATE = 0.00255  # mean p_true were no key to convert: the log's rate is then ~0.247%
DELAY_MEDIAN, DELAY_SIGMA = 3600.0, 1.5  # seconds from click to install, lognormal
DELAY_MIN, DELAY_MAX = 60, 10 * 86_400
REF_CLICKS_PER_DAY, REF_HOURS = 1_000_000, 25  # the intercept's calibration run
# Dictionaries for the ids only: on times, click ids and probabilities they cost memory and bytes
LOG_PARQUET = {"compression": "zstd", "use_dictionary": [*KEY, "channel"]}
TRUTH_PARQUET = {"compression": "zstd", "use_dictionary": False}


@dataclass(frozen=True)
class ClickSettings:
    """What `generate_hours` draws: `n_clicks` over `days` of log from `start` (a date, midnight
    UTC), then `incoming_days` more at the same rate. `n_clicks` is the expected number of clicks
    drawn; the log holds ~1% fewer, the clicks of keys after their install."""

    n_clicks: int
    start: str = "2017-11-06"
    days: int = 4
    incoming_days: int = 1
    world_seed: int = 2017
    sample_seed: int = 1

    def __post_init__(self) -> None:
        if self.n_clicks < 1 or self.days < 1 or self.incoming_days < 0:
            raise ValueError(
                f"need n_clicks >= 1, days >= 1, incoming_days >= 0; got {self.n_clicks}, "
                f"{self.days}, {self.incoming_days}"
            )
        if self.world_seed < 0 or self.sample_seed < 0:
            raise ValueError(f"seeds must be >= 0, got {self.world_seed}, {self.sample_seed}")
        if self.start_time != self.start_time.normalize():
            raise ValueError(f"start must be a date (midnight), got {self.start!r}")

    @classmethod
    def from_params(cls, entry: Mapping, key: str = "generate_clicks") -> ClickSettings:
        """Settings from a config.yaml mapping, checked; `key` names it in errors."""
        names = {f.name for f in fields(cls)}
        if not isinstance(entry, Mapping) or not {"n_clicks"} <= set(entry) <= names:
            raise InputError(f"config.yaml: `{key}` needs n_clicks and at most {sorted(names)}")
        numbers = [n for n in names - {"start"} if n in entry]
        if any(isinstance(entry[n], bool) or not isinstance(entry[n], int) for n in numbers):
            raise InputError(f"config.yaml: `{key}`: {sorted(numbers)} must be whole numbers")
        values = dict(entry)
        if "start" in values:
            values["start"] = str(values["start"])  # YAML reads an unquoted date as a date
        try:
            return cls(**values)
        except ValueError as err:
            raise InputError(f"config.yaml: `{key}`: {err}") from err

    @property
    def start_time(self) -> pd.Timestamp:
        return pd.Timestamp(self.start)

    @property
    def clicks_per_day(self) -> float:
        return self.n_clicks / self.days

    @property
    def n_users(self) -> int:
        return users_for(self.clicks_per_day)


def users_for(clicks_per_day: float) -> int:
    """Users of a log of `clicks_per_day`: per-user behaviour is the same at any size."""
    honest = (1 - w.FRAUD_SHARE) * clicks_per_day
    return max(w.MIN_USERS, round(honest / w.CLICKS_PER_USER_DAY))


@dataclass(frozen=True, eq=False)
class HourOfClicks:
    """One hour of the log, final: its clicks in click_id order."""

    start: pd.Timestamp
    incoming: bool  # in the incoming days after the log
    table: pa.Table  # the LOG_SCHEMA columns, then p_true
    fraud: np.ndarray  # per click, whether a fraud burst made it (diagnostics; not in the log)


@dataclass
class _State:
    """What one hour hands to the next."""

    pending: dict[str, np.ndarray]  # clicks already drawn for later hours
    context: np.ndarray  # the previous hour's logged clicks as sorted composite codes
    converted: np.ndarray  # sorted key codes of the keys that converted


def _take(clicks: dict[str, np.ndarray], rows: np.ndarray) -> dict[str, np.ndarray]:
    return {name: values[rows] for name, values in clicks.items()}


def _isin_sorted(values: np.ndarray, sorted_set: np.ndarray) -> np.ndarray:
    if len(sorted_set) == 0:
        return np.zeros(len(values), dtype=bool)
    at = np.minimum(np.searchsorted(sorted_set, values), len(sorted_set) - 1)
    return sorted_set[at] == values


def _window(codes: np.ndarray, context: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For sorted composite codes (key code, then seconds after the previous hour's start, the
    current hour's clicks at 3600 and later): the key's clicks in [t - 3600, t - 1] among
    `codes` and `context` (the previous hour's codes), and whether one is in [t - 9, t - 1]."""
    count = np.zeros(len(codes), dtype=np.int32)
    burst = np.zeros(len(codes), dtype=bool)
    for within in (codes, context):
        before = np.searchsorted(within, codes, side="left")
        count += before
        count -= np.searchsorted(within, codes - w.WINDOW_SECONDS, side="left")
        burst |= np.searchsorted(within, codes - (w.BURST_SECONDS - 1), side="left") < before
    return count, burst


def _first_conversions(key: np.ndarray, attributed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Which clicks (in click order) are logged: none of a key after its first attributed click;
    and the sorted key codes that converted."""
    converting = np.flatnonzero(attributed)
    keys, first = np.unique(key[converting], return_index=True)
    if len(keys) == 0:
        return np.ones(len(key), dtype=bool), keys
    at = np.minimum(np.searchsorted(keys, key), len(keys) - 1)
    later = (keys[at] == key) & (np.arange(len(key)) > converting[first][at])
    return ~later, keys


def _this_hour(
    world: ClickWorld, state: _State, hour: int, rng: np.random.Generator, means: tuple
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """The clicks of `hour` whose key has not converted, in click order, and their key codes;
    the clicks drawn for later hours go to `state.pending`."""
    parts = [state.pending, *w.draw_hour(world, rng, hour, *means)]
    clicks = {name: np.concatenate([part[name] for part in parts]) for name in parts[0]}
    del parts
    now = clicks["t"] < (hour + 1) * 3600
    state.pending = _take(clicks, ~now)
    clicks = _take(clicks, now)
    key = w.key_codes(*(clicks[name] for name in KEY))
    fresh = ~_isin_sorted(key, state.converted)
    if not fresh.all():
        clicks, key = _take(clicks, fresh), key[fresh]
    second = (clicks["t"] - hour * 3600).astype(np.int16)
    shuffled = rng.permutation(len(key))  # the tiebreak of same-second clicks
    order = shuffled[np.argsort(second[shuffled], kind="stable")]
    del second, shuffled
    return _take(clicks, order), key[order]


def _resolve_hour(
    world: ClickWorld,
    state: _State,
    hour: int,
    rng: np.random.Generator,
    *,
    means: tuple[float, float],
    convert: bool,
) -> dict[str, np.ndarray]:
    """The logged clicks of `hour` in click order, with `logit`, `p_true`, `attributed` and (for
    attributed clicks, else 0) `delay`; updates `state` for the next hour."""
    clicks, key = _this_hour(world, state, hour, rng, means)
    n = len(key)
    codes = (key << w.TIME_BITS) | (clicks["t"] - (hour - 1) * 3600)
    by_code = np.argsort(codes)
    sorted_codes = codes[by_code]
    del codes
    count, burst = np.empty(n, dtype=np.int32), np.empty(n, dtype=bool)
    count[by_code], burst[by_code] = _window(sorted_codes, state.context)

    clicks["logit"] = w.logit(world, clicks, hour % 24, count, burst)
    del count, burst
    clicks["p_true"] = 1.0 / (1.0 + np.exp(-clicks["logit"]))
    drawn = rng.random(n)
    clicks["attributed"] = (drawn < clicks["p_true"]) if convert else np.zeros(n, dtype=bool)
    del drawn
    logged, converted = _first_conversions(key, clicks["attributed"])
    state.converted = np.union1d(state.converted, converted)
    state.context = sorted_codes[logged[by_code]] - 3600  # seconds after this hour's start
    del sorted_codes, by_code, key
    if not logged.all():
        clicks = _take(clicks, logged)
    delay = np.zeros(len(clicks["t"]), dtype=np.int64)
    hit = np.flatnonzero(clicks["attributed"])
    raw = rng.lognormal(np.log(DELAY_MEDIAN), DELAY_SIGMA, len(hit))
    delay[hit] = np.clip(np.rint(raw), DELAY_MIN, DELAY_MAX)
    clicks["delay"] = delay
    return clicks


def _empty_clicks() -> dict[str, np.ndarray]:
    columns = {name: np.zeros(0, dtype=np.int32) for name in [*KEY, "channel"]}
    return {"t": np.zeros(0, dtype=np.int64), **columns, "fraud": np.zeros(0, dtype=bool)}


def _process(
    world: ClickWorld, hours: int, clicks_per_day: float, seed: tuple[int, ...], *, convert: bool
) -> Iterator[dict[str, np.ndarray]]:
    """The logged clicks of `hours` hours, one hour at a time (hour h drawn with [*seed, h])."""
    means = w.session_means(clicks_per_day / 24)
    state = _State(_empty_clicks(), np.zeros(0, np.int64), np.zeros(0, np.int64))
    for hour in range(hours):
        rng = np.random.default_rng([*seed, hour])
        clicks = _resolve_hour(world, state, hour, rng, means=means, convert=convert)
        yield clicks
        del clicks


@lru_cache(maxsize=16)
def reference_intercept(world_seed: int, rate: float = TARGET_RATE) -> float:
    """The intercept b0 that makes `rate` the mean probability of a reference log of the world
    of `world_seed`: its key effects, REF_CLICKS_PER_DAY (users behave alike at any size; that
    many average out their heavy tails), the day after its first hour (which has no past),
    drawn without installs (which end keys, so that the log's rate is a little lower)."""
    world = w.draw_world(world_seed, users_for(REF_CLICKS_PER_DAY))
    hours = _process(world, REF_HOURS, REF_CLICKS_PER_DAY, (world_seed, 2), convert=False)
    next(hours)  # the first hour has no past: fewer counts than later hours
    logits = np.concatenate([hour["logit"] for hour in hours])
    low, high = -30.0, 10.0
    for _ in range(60):
        mid = (low + high) / 2
        if (1.0 / (1.0 + np.exp(-(logits + mid)))).mean() < rate:
            low = mid
        else:
            high = mid
    return (low + high) / 2


def build_world(world_seed: int, n_users: int) -> ClickWorld:
    """The world of `world_seed` with `n_users` users, its intercept calibrated to TARGET_RATE."""
    return replace(w.draw_world(world_seed, n_users), intercept=reference_intercept(world_seed))


def world_for(settings: ClickSettings) -> ClickWorld:
    return build_world(settings.world_seed, settings.n_users)


def _hour_table(clicks: dict[str, np.ndarray], first_id: int, start_s: int) -> pa.Table:
    n = len(clicks["t"])
    click_ms = (start_s + clicks["t"]) * 1000
    attributed = clicks["attributed"]
    columns = {
        "click_id": pa.array(np.arange(first_id, first_id + n, dtype=np.int64)),
        **{name: pa.array(clicks[name]) for name in [*KEY, "channel"]},
        "click_time": pa.array(click_ms, pa.timestamp("ms")),
        "attributed_time": pa.array(
            click_ms + clicks["delay"] * 1000, pa.timestamp("ms"), mask=~attributed
        ),
        "is_attributed": pa.array(attributed.astype(np.int8)),
        "p_true": pa.array(clicks["p_true"]),
    }
    return pa.Table.from_pydict(columns, schema=LOG_SCHEMA.append(TRUTH_SCHEMA.field("p_true")))


def generate_hours(
    settings: ClickSettings, world: ClickWorld | None = None, *, installs: bool = True
) -> Iterator[HourOfClicks]:
    """The log and its incoming days, hour by hour in time order (pure: no files). `world`
    defaults to `world_for(settings)`. Without `installs` no click is attributed and so no key
    ends: the same clicks are drawn, and all of them are logged (a counterfactual for tests)."""
    world = world or world_for(settings)
    hours = 24 * (settings.days + settings.incoming_days)
    start = settings.start_time
    start_s = int(start.value // 1_000_000_000)
    next_id = 0
    seed = (settings.sample_seed, 1)
    process = _process(world, hours, settings.clicks_per_day, seed, convert=installs)
    for hour, clicks in enumerate(process):
        result = HourOfClicks(
            start=start + pd.Timedelta(hours=hour),
            incoming=hour >= 24 * settings.days,
            table=_hour_table(clicks, next_id, start_s),
            fraud=clicks["fraud"],
        )
        next_id += result.table.num_rows
        del clicks  # memory holds one hour: none of this one while the next is drawn
        yield result
        del result


def write_click_log(
    settings: ClickSettings, raw_dir: str | Path, truth_dir: str | Path, incoming_dir: str | Path
) -> dict[str, dict[str, int]]:
    """Write the log by day: `raw_dir/<date>.parquet` for the log's days, `incoming_dir/...`
    for the incoming days (the same columns, labels included), and `truth_dir/<date>.parquet`
    (click_id, p_true) for all days; one row group per hour, each file written atomically.
    Returns clicks and attributed clicks per day."""
    counts: dict[str, dict[str, int]] = {"clicks": {}, "attributed": {}}
    hours = generate_hours(settings)
    total = 0
    for day in range(settings.days + settings.incoming_days):
        name = (settings.start_time + pd.Timedelta(days=day)).strftime("%Y-%m-%d")
        folder = Path(incoming_dir if day >= settings.days else raw_dir)
        clicks = attributed = 0
        with (
            atomic_path(folder / f"{name}.parquet") as log_tmp,
            atomic_path(Path(truth_dir) / f"{name}.parquet") as truth_tmp,
            pq.ParquetWriter(log_tmp, LOG_SCHEMA, **LOG_PARQUET) as log_writer,
            pq.ParquetWriter(truth_tmp, TRUTH_SCHEMA, **TRUTH_PARQUET) as truth_writer,
        ):
            for _ in range(24):
                table = next(hours).table
                if table.num_rows == 0:
                    continue
                log_writer.write_table(table.select(LOG_SCHEMA.names), table.num_rows)
                truth_writer.write_table(table.select(TRUTH_SCHEMA.names), table.num_rows)
                clicks += table.num_rows
                attributed += int(pc.sum(table["is_attributed"]).as_py())
                del table  # before the next hour is drawn
                pa.default_memory_pool().release_unused()  # the writers' buffers, to the system
        total += clicks
        counts["clicks"][name] = clicks
        counts["attributed"][name] = attributed
        log.info("%s: %s clicks, %s attributed; %s so far", name, f"{clicks:,}",
                 f"{attributed:,}", f"{total:,}")  # fmt: skip
    return counts

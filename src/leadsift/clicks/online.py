"""The click features online: a state that answers each click's features from the clicks before
it, under the one rule for the past that `clicks_features` applies in batch, so that a click
scored when it happens reads exactly what the model was trained and evaluated on.

Every feature is a question about the multiset of earlier clicks, never about their order of
arrival: counts of a key's clicks in [t - window, t) or [day start, t), the latest of them in
[t - 1 day, t), the distinct values an ip showed today before t, and a day's published rates. So
a micro-batch is first remembered, then asked about: a click never counts itself or a click of
its own second (all bounds end at t), and the features of clicks that arrive in time order are
the same whether they came one per request or a thousand at once. A click that arrives after
later ones is answered from the clicks that have arrived (see `late` below).

- Counts and the latest click: one `EventStore` per key kind (ip, ip+app, user+app, app+channel).
- Distinct values today (`DistinctToday`): the day's first click of each (ip, value) is an event
  of the ip in a weighted store; when an earlier click of the pair arrives late, the first moves
  (+1 at the new time, -1 at the old). Each (ip, value)'s first time of the day is kept in a
  store of its own, one event per pair and day rather than one per click.
- Rates (`RateBefore`): clicks per value and day as they are scored, installs per value and day
  they were attributed as they are reported (`record_installs`); a day's rates are published at
  its first click, from the days before, and then stay as published.

The horizon is one day (the longest window) plus `max_lateness` seconds behind the newest click;
older events are dropped, and keys with none left go with them. A click older than the newest by
more than `max_lateness` is scored from the state as it is and marked `late`: its own windows may
have lost events. It is still remembered (if within the horizon), so later clicks count it as the
batch stage does; a day's rates, though, were published without it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

import duckdb
import numpy as np
import pandas as pd

from leadsift.clicks import engine
from leadsift.clicks.events import MAX_SPAN, EventStore, hashed_key, pair_key
from leadsift.clicks.features import (
    CATEGORICAL,
    DAY,
    HOUR,
    LEVELS,
    POINT_IN_TIME,
    Count,
    DistinctToday,
    Feature,
    RateBefore,
    SinceLast,
)
from leadsift.clicks.schema import MAX_ID

MAX_LATENESS = 10 * DAY  # a run spans the horizon, a day plus this: within events.MAX_SPAN
DAYS_OFFSET = 2**23  # days are packed beside a value as day + this, in 24 bits


def key_of(clicks: dict[str, np.ndarray], columns: Sequence[str]) -> np.ndarray:
    """The int64 key of each click for a key of one, two or four ids (`leadsift.clicks.events`)."""
    values = [clicks[c] for c in columns]
    if len(values) == 1:
        return values[0].astype(np.int64)
    if len(values) == 2:
        return pair_key(*values)
    if len(values) == 4:
        return hashed_key(*values)
    raise ValueError(f"no key of {len(values)} ids: {columns}")


class RateBook:
    """One `RateBefore`: clicks and installs per value and day, and each day's published rates."""

    def __init__(self, feature: RateBefore) -> None:
        self.feature = feature
        (self.column,) = feature.key
        self.clicks: dict[tuple[int, int], int] = defaultdict(int)
        self.installs: dict[tuple[int, int], int] = defaultdict(int)
        self.published: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    @staticmethod
    def _add(counts: dict[tuple[int, int], int], values: np.ndarray, days: np.ndarray) -> None:
        shifted = days + DAYS_OFFSET  # days within +-2**23 of 1970 (before it too)
        pairs, n = np.unique((values << 24) | shifted, return_counts=True)
        for pair, k in zip(pairs.tolist(), n.tolist(), strict=True):
            counts[pair >> 24, (pair & 0xFFFFFF) - DAYS_OFFSET] += k

    def count(self, values: np.ndarray, days: np.ndarray, installs: bool = False) -> None:
        """Add clicks (or installs) of these values on these days (installs: attributed)."""
        self._add(self.installs if installs else self.clicks, values, days)

    def _table(self, day: int) -> tuple[np.ndarray, np.ndarray]:
        """The rates of `day`: per value, installs attributed on earlier days over clicks on
        earlier days (missing where it had none), as the batch stage's daily summary computes."""
        if day not in self.published:
            clicks: dict[int, int] = defaultdict(int)
            installs: dict[int, int] = defaultdict(int)
            for (value, d), n in self.clicks.items():
                if d < day:
                    clicks[value] += n
            for (value, d), n in self.installs.items():
                if d < day:
                    installs[value] += n
            values = np.array(sorted(set(clicks) | set(installs)), dtype=np.int64)
            n = np.array([clicks[v] for v in values.tolist()], dtype=np.int64)
            k = np.array([installs[v] for v in values.tolist()], dtype=np.int64)
            with np.errstate(divide="ignore", invalid="ignore"):
                rates = np.where(n > 0, k.astype(np.float64) / n, np.nan)
            self.published[day] = (values, rates)
        return self.published[day]

    def rates(self, values: np.ndarray, days: np.ndarray) -> np.ndarray:
        """Each value's rate on each day, as published at the day's first click."""
        out = np.full(len(values), np.nan)
        for day in np.unique(days).tolist():
            on = days == day
            known, rates = self._table(day)
            if not len(known):
                continue
            at = np.searchsorted(known, values[on])
            found = (at < len(known)) & (known[np.minimum(at, len(known) - 1)] == values[on])
            out[on] = np.where(found, rates[np.minimum(at, len(known) - 1)], np.nan)
        return out


class _Batch:
    """A micro-batch's times and ids as arrays, and each key of them worked out once."""

    def __init__(self, clicks: pd.DataFrame) -> None:
        self.t = clicks["t"].to_numpy(np.int64)
        self.ids = {c: clicks[c].to_numpy(np.int64) for c in LEVELS}
        for column, ids in self.ids.items():  # what the keys pack exactly (as the contract asks)
            if len(ids) and (ids.min() < 0 or ids.max() > MAX_ID):
                raise ValueError(f"{column} ids must be within 0..{MAX_ID}")
        self._keys: dict[str, np.ndarray] = {}

    def key(self, name: str) -> np.ndarray:
        """The key of the ids `name` joins with `_` (e.g. ip_app)."""
        if name not in self._keys:
            self._keys[name] = key_of(self.ids, name.split("_"))
        return self._keys[name]


@dataclass
class ClickState:
    """What an online scorer remembers of the clicks it has seen; `features` of a micro-batch
    are those `clicks_features` gives the same clicks (`leadsift.clicks.features`)."""

    max_lateness: int = 3600
    features: Sequence[Feature] = POINT_IN_TIME
    newest: int = field(default=-(2**62), init=False)  # the newest click seen
    stores: dict[str, EventStore] = field(default_factory=dict, init=False)
    pair_firsts: dict[str, EventStore] = field(default_factory=dict, init=False)
    books: dict[str, RateBook] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        assert DAY + MAX_LATENESS < MAX_SPAN // 2  # a merge's run spans at most twice the horizon
        if not 0 <= self.max_lateness <= MAX_LATENESS:
            raise ValueError(f"max_lateness must be 0..{MAX_LATENESS} s, got {self.max_lateness}")
        for f in self.features:
            if isinstance(f, Count | SinceLast):
                self.stores.setdefault("_".join(f.key), EventStore())
            elif isinstance(f, DistinctToday):
                self.pair_firsts[f.name] = EventStore()
                self.stores[f.first] = EventStore(weighted=True)
            else:
                self.books[f.name] = RateBook(f)
        windows = [f.seconds or DAY for f in self.features if isinstance(f, Count | SinceLast)]
        self._longest = max([DAY, *windows])  # DAY: today's counts reach back to midnight

    @property
    def horizon(self) -> int:
        """The earliest time any click to come may need: events before it are dropped."""
        return self.newest - self._longest - self.max_lateness

    def observe(self, clicks: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
        """`remember` a micro-batch, then its `featurize`d clicks and which came late."""
        batch = _Batch(clicks)
        late = self._remember(batch)
        return self._featurize(batch, clicks.index), late

    def remember(self, clicks: pd.DataFrame, *, count_clicks: bool = True) -> np.ndarray:
        """Take in a micro-batch (ids and `t`); returns which of its clicks are late."""
        return self._remember(_Batch(clicks), count_clicks=count_clicks)

    def _remember(self, batch: _Batch, *, count_clicks: bool = True) -> np.ndarray:
        t, ids = batch.t, batch.ids
        if not len(t):
            return np.zeros(0, bool)
        seen = np.maximum.accumulate(np.concatenate([[self.newest], t[:-1]]))
        late = t < seen - self.max_lateness
        self.newest = max(self.newest, int(t.max()))
        day = t // DAY
        # what any click to come may need, and what this batch's own (timely) clicks need
        keep_from = min(self.horizon, int(t[~late].min(initial=self.newest)) - self._longest)
        keep_from = max(keep_from, self.newest - MAX_SPAN // 2)  # a batch spanning weeks
        for f in self.features:  # firsts of the day move before their pairs' clicks are added
            if isinstance(f, DistinctToday):
                self._move_firsts(f, batch, day, keep_from)
        for name, store in self.stores.items():
            if not store.weighted:
                store.add(batch.key(name), t, keep_from=keep_from)
        if count_clicks:
            for book in self.books.values():
                book.count(ids[book.column], day)
        return late

    def _move_firsts(
        self, f: DistinctToday, batch: _Batch, day: np.ndarray, keep_from: int
    ) -> None:
        t, pair = batch.t, batch.key("_".join((*f.key, f.of)))
        order = np.lexsort((t, pair))  # by pair, then time (so by day)
        pair_o, day_o = pair[order], day[order]
        start = np.ones(len(t), bool)
        start[1:] = (pair_o[1:] != pair_o[:-1]) | (day_o[1:] != day_o[:-1])
        chosen = order[start]  # each (pair, day)'s earliest click in the batch
        earliest, days = t[chosen], day[chosen]
        pairs = self.pair_firsts[f.name]  # each (pair, day)'s first time (and earlier ones)
        old = pairs.earliest(pair[chosen], days * DAY, (days + 1) * DAY)
        new = (old < 0) | (earliest < old)
        pairs.add(pair[chosen][new], earliest[new], keep_from=keep_from)
        moved = new & (old >= 0)
        owner = batch.key("_".join(f.key))[chosen]
        keys = np.concatenate([owner[new], owner[moved]])
        times = np.concatenate([earliest[new], old[moved]])
        weights = np.repeat(np.array([1, -1]), [new.sum(), moved.sum()])
        self.stores[f.first].add(keys, times, weights, keep_from=keep_from)

    def record_installs(self, clicks: pd.DataFrame) -> None:
        """Installs as they are reported: rows with the rate keys' ids and `attributed_t`."""
        day = clicks["attributed_t"].to_numpy(np.int64) // DAY
        for book in self.books.values():
            book.count(clicks[book.column].to_numpy(np.int64), day, installs=True)

    def featurize(self, clicks: pd.DataFrame) -> pd.DataFrame:
        """Each click's features (the columns `feature_names()` lists), from the clicks
        remembered so far, these ones included: call after `remember`. One float64 block, the
        matrix the model reads (the batch stage's counts are integers; their values are equal)."""
        return self._featurize(_Batch(clicks), clicks.index)

    def _featurize(self, batch: _Batch, index: pd.Index) -> pd.DataFrame:
        t, ids = batch.t, batch.ids
        day_start = t // DAY * DAY
        out: dict[str, np.ndarray] = {c: ids[c] for c in CATEGORICAL}
        out["hour"] = np.floor_divide(np.fmod(t, DAY), HOUR)  # as SQL's `%`, before 1970 too
        for name, group in self._questions().items():
            store, keys = self.stores[name], batch.key(name)
            starts = [f.seconds for f in group["counts"]]  # None: midnight
            gap = group["gap"]
            if gap and gap.seconds not in starts:
                starts.append(gap.seconds)
            los = [day_start if s is None else t - s for s in starts]
            latest = starts.index(gap.seconds) if gap else None
            counts, last = store.window(keys, los, t, latest=latest)
            for f, count in zip(group["counts"], counts, strict=False):
                out[f.name] = count
            if gap:
                out[gap.name] = np.where(last >= 0, (t - last).astype(np.float64), np.nan)
        for f in self.features:
            if isinstance(f, DistinctToday):
                (count,), _ = self.stores[f.first].window(
                    batch.key("_".join(f.key)), [day_start], t
                )
                out[f.name] = count.astype(np.float64)
            elif isinstance(f, RateBefore):
                book = self.books[f.name]
                out[f.name] = book.rates(ids[book.column], t // DAY)
        names = [*CATEGORICAL, "hour", *(f.name for f in self.features)]
        matrix = np.column_stack([out[n] for n in names]).astype(np.float64, copy=False)
        return pd.DataFrame(matrix, columns=names, index=index)

    def _questions(self) -> dict[str, dict]:
        """Per store of clicks: the counts asked of it, and its gap (one at most)."""
        asked: dict[str, dict] = {}
        for f in self.features:
            if isinstance(f, Count | SinceLast):
                group = asked.setdefault("_".join(f.key), {"counts": [], "gap": None})
                if isinstance(f, Count):
                    group["counts"].append(f)
                elif group["gap"] is None:
                    group["gap"] = f
                else:
                    raise ValueError(f"two gaps of one key: {group['gap'].name}, {f.name}")
        return asked

    def size(self) -> dict[str, int]:
        """Events and keys held, and their bytes."""
        stores = [*self.stores.values(), *self.pair_firsts.values()]
        return {
            "events": sum(s.events for s in stores),
            "keys": sum(s.keys for s in stores),
            "bytes": sum(s.nbytes for s in stores),
        }

    def warm(
        self, connection: duckdb.DuckDBPyConnection, log: str, until: int | None = None
    ) -> None:
        """Rebuild from a prepared log (a table expression with the prepared columns) of the
        clicks before `until` (default: all of them): those of its last horizon, and the daily
        clicks and installs behind the rates (every install the log records is known)."""
        if until is None:
            (newest,) = connection.execute(f"SELECT MAX(t) FROM {log}").fetchone()
            if newest is None:  # an empty log: nothing to remember
                return
            until = int(newest) + 1
        before = f"(SELECT * FROM {log} WHERE t < {until})"
        for book in self.books.values():
            rows = connection.execute(book.feature.daily_sql(before)).fetchall()
            for value, day, clicks, installs in rows:
                book.clicks[value, day] += clicks
                book.installs[value, day] += installs
        start = until - self._longest - self.max_lateness
        columns = ", ".join([*LEVELS, "t"])
        query = f"SELECT {columns} FROM {log} WHERE t >= {start} AND t < {until} ORDER BY t"
        for batch in engine.batches(connection, query):
            self.remember(batch.to_pandas(), count_clicks=False)

"""Bounded, compact memory of recent clicks for online scoring: per key kind, the (key, time) of
each click in a sliding horizon, answering "how many of this key's clicks fall in [lo, hi)" and
"the latest (earliest) of them" for a whole micro-batch at once.

A store is a few sorted runs (a log-structured merge): a batch of clicks becomes a small run, and
a run merges into the one before it once that one is no more than `RATIO` times larger, so there
are about log_RATIO(events / batch) runs and each event is re-sorted a few times over its life.
Merging drops the events older than the horizon, and a run whose newest event is older goes
whole: that is how keys idle longer than the horizon leave.
Each run keeps its keys once, sorted, and per event one integer, `position of its key << BITS |
seconds since the run's first event`: the events of a key are then contiguous and in time order,
so a count is one search for the key and at most two binary searches (`numpy.searchsorted`) per
run, whatever the number of keys; a bound before a run's start or past its end is read from where
the key's events start and end instead. An event takes 8 bytes (16 with a weight), a key of a run
12 more.

Keys are int64: two ids (each below 2**31) pack exactly into one; the four ids of a user are
hashed to 64 bits (splitmix64), so two users share a key only if their hashes collide, which for
n users happens with probability below n**2 / 2**65 (about 3e-6 at ten million users).
"""

from __future__ import annotations

import numpy as np

BITS = 21  # seconds a run may span: 2**21 s, about 24 days
MASK = (1 << BITS) - 1
MAX_SPAN = MASK - 1
RATIO = 6


def pair_key(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Two ids (0 <= id < 2**31) as one int64 key, exactly."""
    return (a.astype(np.int64) << 31) | b.astype(np.int64)


def _splitmix(x: np.ndarray) -> np.ndarray:
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def hashed_key(a: np.ndarray, b: np.ndarray, c: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Four ids as one int64 key: a 64-bit hash of the two exact pairs."""
    first = _splitmix(pair_key(a, b).view(np.uint64) + np.uint64(0x9E3779B97F4A7C15))
    return _splitmix(first ^ pair_key(c, d).view(np.uint64)).view(np.int64)


def _key_order(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The order that sorts query keys, and the one that puts them back: queries in key order
    search neighbouring memory one after another, about twice as fast."""
    order = np.argsort(keys, kind="stable")
    back = np.empty_like(order)
    back[order] = np.arange(len(order))
    return order, back


def _checked_base(earliest: int, latest: int) -> int:
    """`earliest`, as the base of a run whose events reach `latest`, if the span fits."""
    if latest - earliest > MAX_SPAN:
        raise ValueError(
            f"a run of events may span at most {MAX_SPAN:,} s, not {latest - earliest:,}"
        )
    return earliest


def _starts(values: np.ndarray) -> np.ndarray:
    """Where a sorted array's values change: True at each value's first place."""
    first = np.empty(len(values), bool)
    first[:1] = True
    np.not_equal(values[1:], values[:-1], out=first[1:])
    return first


class Run:
    """One sorted run of a store's events: its keys, and per event its packed (key, time)."""

    __slots__ = ("base", "cumulative", "keys", "newest", "packed", "starts")

    def __init__(
        self, keys: np.ndarray, packed: np.ndarray, base: int, weights: np.ndarray | None
    ) -> None:
        """From its keys (sorted, each once) and its events' packed position and time, in order;
        keys left without events are dropped, and the times re-based on the earliest."""
        position = packed >> BITS
        first = _starts(position)
        if first.sum() < len(keys):
            keys = keys[position[first]]
            packed = ((np.cumsum(first, dtype=np.int64) - 1) << BITS) | (packed & MASK)
        offsets = packed & MASK
        low, high = int(offsets.min()), int(offsets.max())
        self.keys, self.packed = keys, packed - low if low else packed
        self.base, self.newest = base + low, base + high
        # where each key's events start (and the last end): a run wholly inside a window needs
        # no search for that bound
        self.starts = np.append(np.flatnonzero(first), len(packed)).astype(np.int32)
        self.cumulative = None if weights is None else np.append(0, np.cumsum(weights))

    @classmethod
    def of(cls, keys: np.ndarray, times: np.ndarray, weights: np.ndarray | None) -> Run:
        """From events in any order."""
        order = np.lexsort((times, keys))
        keys, times = keys[order], times[order]
        starts = _starts(keys)
        position = np.cumsum(starts, dtype=np.int64) - 1
        base = _checked_base(int(times.min()), int(times.max()))
        packed = (position << BITS) | (times - base)
        return cls(keys[starts], packed, base, None if weights is None else weights[order])

    @classmethod
    def merged(cls, runs: list[Run], keep_from: int) -> Run | None:
        """The runs' events from `keep_from` on, as one run (weights of one key and time summed,
        zeros dropped); None if none is left. Each run is sorted already, so one linear merge
        (a stable sort of sorted parts) puts them in order."""
        keys = np.sort(np.concatenate([run.keys for run in runs]), kind="stable")  # a merge
        keys = keys[_starts(keys)]
        base = max(min(run.base for run in runs), keep_from)
        parts, weights = [], []
        for run in runs:  # the events from `base` on, packed against it
            offsets = run.base - base + (run.packed & MASK)
            kept = offsets >= 0
            position = np.searchsorted(keys, run.keys)[run.packed[kept] >> BITS]
            parts.append((position << BITS) | offsets[kept])
            if run.cumulative is not None:
                weights.append(np.diff(run.cumulative)[kept])
        packed = np.concatenate(parts)
        if not len(packed):
            return None
        _checked_base(base, base + int((packed & MASK).max()))
        if not weights:
            packed, weights = np.sort(packed, kind="stable"), None
        else:
            order = np.argsort(packed, kind="stable")
            packed, weights = packed[order], np.concatenate(weights)[order]
            starts = np.flatnonzero(_starts(packed))
            packed, weights = packed[starts], np.add.reduceat(weights, starts)
            packed, weights = packed[weights != 0], weights[weights != 0]
        return cls(keys, packed, base, weights) if len(packed) else None

    def __len__(self) -> int:
        return len(self.packed)

    @property
    def nbytes(self) -> int:
        extra = 0 if self.cumulative is None else self.cumulative.nbytes
        return self.keys.nbytes + self.packed.nbytes + self.starts.nbytes + extra

    def locate(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per query key: its position among the run's keys, and whether the run holds it (the
        position of a key it does not hold means nothing)."""
        at = np.minimum(np.searchsorted(self.keys, keys), len(self.keys) - 1)
        return at, self.keys[at] == keys

    def lower(self, at: np.ndarray, prefix: np.ndarray, lo: np.ndarray) -> np.ndarray:
        """Per located key: the rank of its first event at or after `lo` (where every bound is
        at or before the run's start, where its events start: no search)."""
        return self.starts[at] if self.base >= int(lo.max()) else self.rank(prefix, lo)

    def upper(self, at: np.ndarray, prefix: np.ndarray, hi: np.ndarray) -> np.ndarray:
        """Per located key: the rank of its first event at or after `hi` (where every bound is
        after the run's end, where its events end: no search)."""
        return self.starts[at + 1] if self.newest < int(hi.min()) else self.rank(prefix, hi)

    def rank(self, prefix: np.ndarray, times: np.ndarray) -> np.ndarray:
        """Per query: the position of its key's first event at or after its time."""
        offset = np.minimum(np.maximum(times - self.base, 0), MASK)
        return np.searchsorted(self.packed, prefix | offset)

    def total(self, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        """Events (or their weights) between ranks lo and hi."""
        return hi - lo if self.cumulative is None else self.cumulative[hi] - self.cumulative[lo]

    def time_at(self, rank: np.ndarray) -> np.ndarray:
        return self.base + (self.packed[np.minimum(rank, len(self.packed) - 1)] & MASK)


class EventStore:
    """The (key, time) events of one key kind within the horizon; `weighted` events carry +1 or
    -1 (a count that moves: see `leadsift.clicks.online`)."""

    def __init__(self, *, weighted: bool = False) -> None:
        self.weighted = weighted
        self.runs: list[Run] = []

    def add(
        self,
        keys: np.ndarray,
        times: np.ndarray,
        weights: np.ndarray | None = None,
        *,
        keep_from: int,
    ) -> None:
        """Remember events (those before `keep_from` are past the horizon: dropped, as are runs
        that hold only such events)."""
        self.runs = [run for run in self.runs if run.newest >= keep_from]
        kept = times >= keep_from
        if kept.any():
            chosen = None if weights is None else weights[kept]
            self.runs.append(Run.of(keys[kept], times[kept], chosen))
        while len(self.runs) > 1 and len(self.runs[-2]) <= RATIO * len(self.runs[-1]):
            newer, older = self.runs.pop(), self.runs.pop()
            if merged := Run.merged([older, newer], keep_from):
                self.runs.append(merged)

    def window(
        self, keys: np.ndarray, los: list[np.ndarray], hi: np.ndarray, *, latest: int | None = None
    ) -> tuple[list[np.ndarray], np.ndarray]:
        """Per query key: its events in [lo, hi) for each of `los`, and (with `latest`, an index
        into `los`) the time of its latest event in [los[latest], hi), -1 where none."""
        order, back = _key_order(keys)
        keys, hi, los = keys[order], hi[order], [lo[order] for lo in los]
        counts = [np.zeros(len(keys), np.int64) for _ in los]
        last = np.full(len(keys), -1, np.int64)
        earliest = [int(lo.min()) for lo in los]
        for run in self.runs:
            at, found = run.locate(keys)
            prefix = at.astype(np.int64) << BITS
            top = run.upper(at, prefix, hi)
            for number, lo in enumerate(los):
                if run.newest < earliest[number]:  # the run ends before any window starts
                    continue
                bottom = run.lower(at, prefix, lo)
                counts[number] += np.where(found, run.total(bottom, top), 0)
                if number == latest:
                    held = found & (top > bottom)
                    last = np.where(held, np.maximum(last, run.time_at(top - 1)), last)
        return [count[back] for count in counts], last[back]

    def earliest(self, keys: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        """Per query key: the time of its earliest event in [lo, hi), -1 where none."""
        order, back = _key_order(keys)
        keys, lo, hi = keys[order], lo[order], hi[order]
        first = np.full(len(keys), -1, np.int64)
        starts = int(lo.min())
        for run in self.runs:
            if run.newest < starts:  # ends before the earliest bound
                continue
            at, found = run.locate(keys)
            prefix = at.astype(np.int64) << BITS
            bottom, top = run.lower(at, prefix, lo), run.upper(at, prefix, hi)
            held = found & (top > bottom)
            times = run.time_at(bottom)
            first = np.where(held & ((first < 0) | (times < first)), times, first)
        return first[back]

    @property
    def events(self) -> int:
        return sum(len(run) for run in self.runs)

    @property
    def keys(self) -> int:
        """Keys summed over runs (a key in two runs counts twice): what the memory holds."""
        return sum(len(run.keys) for run in self.runs)

    @property
    def nbytes(self) -> int:
        return sum(run.nbytes for run in self.runs)

"""The world clicks are drawn from, and how one hour of clicks is drawn, before any conversion.

TalkingData's AdTracking log records who clicked (ip, device, os), on which app's ad, through
which channel (publisher), and when; the label says whether the app was installed afterwards.
This module holds the parts of that process that do not depend on conversions:

- The *world* (fixed by the world seed): key vocabularies of fixed size with Zipf-like
  popularity and random effects on the log-odds of conversion; ~10% of channels are fraud
  channels of near-zero quality; users with a device, an os and an ip, several users behind one
  ip (NAT, a heavy-tailed number of them); a small set of fraud ips with a bot device and os.
  The number of users grows with the log's size, so per-user behaviour does not.
- The *clicks of one hour*: honest sessions (a user clicks one app's ad through one channel
  1-5 times, tens of seconds to many minutes apart) starting at a daily-cycled rate, and fraud
  bursts (a fraud ip clicks tens to hundreds of times, seconds apart, many in the same second,
  mostly through fraud channels) at a flat rate. Clicks of a session may fall in later hours.
- The log-odds of conversion of a click from what an online model can know at the click
  (`logit`): its key levels, its hour of day, and the strict past of its key
  (ip, app, device, os) within the last hour.

Which clicks convert, and which are never logged because their key converted earlier, is the
chunked process of `leadsift.clicks.synth`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

N_APPS, N_CHANNELS, N_OS, N_DEVICES = 400, 180, 300, 100
FRAUD_CHANNEL_SHARE = 0.10
# Zipf exponents of the popularity of apps, channels, os and devices (one device dominates, as
# device 1 does in TalkingData), and of fraud channels among fraud bursts
APP_ZIPF, CHANNEL_ZIPF, OS_ZIPF, DEVICE_ZIPF, FRAUD_CHANNEL_ZIPF = 1.1, 1.0, 1.3, 2.0, 0.8
FRAUD_CHANNEL_HONEST_WEIGHT = 0.3  # honest traffic shuns fraud channels (popularity multiplier)
# Effects of key levels on the log-odds: normal, of these standard deviations, plus for apps and
# channels POPULARITY_SLOPE * -log(popularity / its geometric mean): ad-heavy popular apps and
# channels convert less, as in TalkingData. The fraud channels' effects: mean and deviation.
POPULARITY_SLOPE = 0.6
APP_SD, CHANNEL_SD, OS_SD, DEVICE_SD = 1.0, 0.7, 0.35, 0.5
FRAUD_CHANNEL_EFFECT, FRAUD_CHANNEL_SD = -5.0, 0.5
HOUR_AMPLITUDE, HOUR_PEAK, HOUR_SD = 0.25, 12, 0.05  # conversion's daily cycle (UTC hours)
# Count effects: -COUNT_WEIGHT * log1p(n_key_1h) - BURST_WEIGHT * [a key click < 10 s earlier]
COUNT_WEIGHT, BURST_WEIGHT = 1.5, 2.0
WINDOW_SECONDS, BURST_SECONDS = 3600, 10

# Session start rate per UTC hour of day, mean 1 (busy in China's day, quiet in its night)
CYCLE = np.exp(0.9 * np.cos(2 * np.pi * (np.arange(24) - 7) / 24))
CYCLE /= CYCLE.mean()
SESSION_CLICKS = np.array([0.50, 0.22, 0.13, 0.09, 0.06])  # P(1..5 clicks in an honest session)
SESSION_GAP_MEDIAN, SESSION_GAP_SIGMA = 75.0, 1.1  # seconds between a session's clicks
BURST_SIZES = np.arange(20, 401)  # clicks in a fraud burst, log-uniform
BURST_GAP_P = 0.45  # geometric gaps (seconds, from 0) between a burst's clicks: 45% same second
FRAUD_SHARE = 0.2  # of the clicks, expected
FRAUD_ON_FRAUD_CHANNEL = 0.8  # share of fraud bursts through a fraud channel

CLICKS_PER_USER_DAY = 40.0  # honest clicks of the average user
MIN_USERS = 200
USER_ACTIVITY_SIGMA = 1.0  # lognormal spread of users' click rates
# Users behind one ip (NAT): Zipf, at most a share of all users (so that one draw cannot hold a
# small world's users), and at most MAX_USERS_PER_IP
USERS_PER_IP_ZIPF, MAX_USERS_PER_IP, MAX_IP_SHARE = 2.2, 5000, 0.003
FRAUD_IP_SHARE, MIN_FRAUD_IPS = 0.005, 3
FRAUD_IP_SIGMA = 1.0  # lognormal spread of fraud ips' burst rates
TIME_BITS = 13  # a key's composite code holds 2**13 seconds (two hours) after the key


@dataclass(frozen=True, eq=False)
class ClickWorld:
    """Everything clicks are drawn from; fixed by the world seed (and the number of users)."""

    app_cdf: np.ndarray  # cumulative popularity over app ids
    channel_cdf: np.ndarray  # of channels in honest sessions
    fraud_channels: np.ndarray  # ids of the fraud channels
    fraud_channel_cdf: np.ndarray  # of fraud channels in fraud bursts
    app_effect: np.ndarray  # effects on the log-odds of conversion, by id
    channel_effect: np.ndarray
    os_effect: np.ndarray
    device_effect: np.ndarray
    hour_effect: np.ndarray  # by UTC hour of day
    user_cdf: np.ndarray  # cumulative share of honest sessions over users
    user_ip: np.ndarray
    user_device: np.ndarray
    user_os: np.ndarray
    n_ips: int
    fraud_ip: np.ndarray  # the fraud ips, with their bot device and os
    fraud_device: np.ndarray
    fraud_os: np.ndarray
    fraud_ip_cdf: np.ndarray  # cumulative share of fraud bursts over fraud ips
    intercept: float  # b0, calibrated to the attributed rate (leadsift.clicks.synth.build_world)

    @property
    def n_users(self) -> int:
        return len(self.user_ip)


def _cdf(weights: np.ndarray) -> np.ndarray:
    cdf = np.cumsum(weights / weights.sum())
    cdf[-1] = 1.0
    return cdf


def _zipf_by_id(n: int, exponent: float, rng: np.random.Generator) -> np.ndarray:
    """Zipf popularity over `n` ids, ranks shuffled so that an id says nothing of its rank."""
    weights = np.arange(1, n + 1, dtype=float) ** -exponent
    return weights[rng.permutation(n)] / weights.sum()


def _effects(probs: np.ndarray, sd: float, rng: np.random.Generator) -> np.ndarray:
    log_probs = np.log(probs)
    return POPULARITY_SLOPE * (log_probs.mean() - log_probs) + rng.normal(0.0, sd, len(probs))


def draw(cdf: np.ndarray, rng: np.random.Generator, n: int) -> np.ndarray:
    """`n` indices drawn with the probabilities whose cumulative sums are `cdf`."""
    return np.minimum(np.searchsorted(cdf, rng.random(n), side="right"), len(cdf) - 1)


def draw_world(world_seed: int, n_users: int, intercept: float = 0.0) -> ClickWorld:
    """Draw the world. Key levels and their effects come from the world seed alone, so worlds of
    any number of users share them; the users and ips come from (world seed, n_users)."""
    if n_users < 1:
        raise ValueError(f"n_users must be >= 1, got {n_users}")
    rng = np.random.default_rng([world_seed, 0])
    app_probs = _zipf_by_id(N_APPS, APP_ZIPF, rng)
    channel_probs = _zipf_by_id(N_CHANNELS, CHANNEL_ZIPF, rng)
    os_probs = _zipf_by_id(N_OS, OS_ZIPF, rng)
    device_probs = _zipf_by_id(N_DEVICES, DEVICE_ZIPF, rng)
    fraud_channels = np.sort(
        rng.choice(N_CHANNELS, round(FRAUD_CHANNEL_SHARE * N_CHANNELS), replace=False)
    )
    channel_effect = _effects(channel_probs, CHANNEL_SD, rng)
    channel_effect[fraud_channels] = rng.normal(
        FRAUD_CHANNEL_EFFECT, FRAUD_CHANNEL_SD, len(fraud_channels)
    )
    honest_channel = channel_probs.copy()
    honest_channel[fraud_channels] *= FRAUD_CHANNEL_HONEST_WEIGHT
    hours = np.arange(24)
    hour_effect = HOUR_AMPLITUDE * np.cos(2 * np.pi * (hours - HOUR_PEAK) / 24)
    effects = {
        "app_effect": _effects(app_probs, APP_SD, rng),
        "channel_effect": channel_effect,
        "os_effect": rng.normal(0.0, OS_SD, N_OS),
        "device_effect": rng.normal(0.0, DEVICE_SD, N_DEVICES),
        "hour_effect": hour_effect + rng.normal(0.0, HOUR_SD, 24),
    }
    fraud_channel_cdf = _cdf(_zipf_by_id(len(fraud_channels), FRAUD_CHANNEL_ZIPF, rng))

    rng = np.random.default_rng([world_seed, 1, n_users])
    user_ip, n_ips = _nat(n_users, rng)
    fraud_ip = np.sort(
        rng.choice(n_ips, max(MIN_FRAUD_IPS, round(FRAUD_IP_SHARE * n_ips)), replace=False)
    )
    n_fraud = len(fraud_ip)
    if n_ips * N_APPS * N_DEVICES * N_OS >= 2 ** (63 - TIME_BITS):
        raise ValueError(f"{n_ips} ips are too many for 64-bit key codes")
    return ClickWorld(
        app_cdf=_cdf(app_probs),
        channel_cdf=_cdf(honest_channel),
        fraud_channels=fraud_channels,
        fraud_channel_cdf=fraud_channel_cdf,
        **effects,
        user_cdf=_cdf(rng.lognormal(0.0, USER_ACTIVITY_SIGMA, n_users)),
        user_ip=user_ip,
        user_device=draw(_cdf(device_probs), rng, n_users).astype(np.int32),
        user_os=draw(_cdf(os_probs), rng, n_users).astype(np.int32),
        n_ips=n_ips,
        fraud_ip=fraud_ip.astype(np.int32),
        fraud_device=draw(_cdf(device_probs), rng, n_fraud).astype(np.int32),
        fraud_os=draw(_cdf(os_probs), rng, n_fraud).astype(np.int32),
        fraud_ip_cdf=_cdf(rng.lognormal(0.0, FRAUD_IP_SIGMA, n_fraud)),
        intercept=intercept,
    )


def _nat(n_users: int, rng: np.random.Generator) -> tuple[np.ndarray, int]:
    """Each user's ip (ids shuffled) and the number of ips."""
    cap = max(1, min(MAX_USERS_PER_IP, round(MAX_IP_SHARE * n_users)))
    sizes = np.minimum(rng.zipf(USERS_PER_IP_ZIPF, n_users), cap)
    n_ips = int(np.searchsorted(np.cumsum(sizes), n_users)) + 1
    owner = np.repeat(np.arange(n_ips), sizes[:n_ips])[:n_users]
    ip_id = rng.permutation(n_ips).astype(np.int32)
    return ip_id[rng.permutation(owner)], n_ips


def key_codes(ip: np.ndarray, app: np.ndarray, device: np.ndarray, os: np.ndarray) -> np.ndarray:
    """One int64 per key (ip, app, device, os); codes of different keys differ."""
    code = ip.astype(np.int64) * N_APPS + app
    return (code * N_DEVICES + device) * N_OS + os


def logit(
    world: ClickWorld,
    clicks: dict[str, np.ndarray],
    hour_of_day: int | np.ndarray,
    n_key_1h: np.ndarray,
    burst: np.ndarray,
) -> np.ndarray:
    """Log-odds of conversion, intercept included. `n_key_1h`: clicks of the same key at most
    WINDOW_SECONDS and at least one second earlier; `burst`: whether one was less than
    BURST_SECONDS earlier."""
    z = world.intercept + world.app_effect[clicks["app"]]
    z += world.channel_effect[clicks["channel"]]
    z += world.os_effect[clicks["os"]]
    z += world.device_effect[clicks["device"]]
    z += world.hour_effect[hour_of_day]
    z -= COUNT_WEIGHT * np.log1p(n_key_1h)
    z -= BURST_WEIGHT * burst
    return z


def session_means(clicks_per_hour: float) -> tuple[float, float]:
    """Expected honest sessions and fraud bursts per hour (the former before the daily cycle)
    for `clicks_per_hour` clicks per hour on average."""
    session = float(SESSION_CLICKS @ np.arange(1, len(SESSION_CLICKS) + 1))
    burst = float(BURST_SIZES @ _burst_probs())
    return (1 - FRAUD_SHARE) * clicks_per_hour / session, FRAUD_SHARE * clicks_per_hour / burst


def _burst_probs() -> np.ndarray:
    return (1.0 / BURST_SIZES) / (1.0 / BURST_SIZES).sum()


def _session_times(starts: np.ndarray, sizes: np.ndarray, gaps: np.ndarray) -> np.ndarray:
    """Click times of sessions: each session's start, then its gaps (`gaps` has one entry per
    click; the entries of first clicks are ignored)."""
    first = np.cumsum(sizes) - sizes
    gaps[first] = 0
    elapsed = np.cumsum(gaps)
    return np.repeat(starts, sizes) + elapsed - np.repeat(elapsed[first], sizes)


def draw_hour(
    world: ClickWorld, rng: np.random.Generator, hour: int, sessions: float, bursts: float
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """The clicks of the honest sessions and of the fraud bursts starting in `hour` (hours since
    the log's start), with times in seconds since the start; `sessions` and `bursts` are their
    expected numbers per hour (the sessions' before the daily cycle). Columns: t, ip, app,
    device, os, channel, fraud (whether the click is a fraud burst's)."""
    n = rng.poisson(sessions * CYCLE[hour % 24])
    user = draw(world.user_cdf, rng, n)
    sizes = draw(np.cumsum(SESSION_CLICKS), rng, n) + 1
    starts = hour * 3600 + rng.integers(0, 3600, n)
    gaps = rng.lognormal(np.log(SESSION_GAP_MEDIAN), SESSION_GAP_SIGMA, sizes.sum())
    gaps = np.maximum(np.rint(gaps, out=gaps), 1, out=gaps).astype(np.int64)
    honest = {
        "t": _session_times(starts, sizes, gaps),
        "ip": np.repeat(world.user_ip[user], sizes),
        "app": np.repeat(draw(world.app_cdf, rng, n).astype(np.int32), sizes),
        "device": np.repeat(world.user_device[user], sizes),
        "os": np.repeat(world.user_os[user], sizes),
        "channel": np.repeat(draw(world.channel_cdf, rng, n).astype(np.int32), sizes),
        "fraud": np.zeros(sizes.sum(), dtype=bool),
    }

    m = rng.poisson(bursts)
    bot = draw(world.fraud_ip_cdf, rng, m)
    sizes = BURST_SIZES[draw(np.cumsum(_burst_probs()), rng, m)]
    starts = hour * 3600 + rng.integers(0, 3600, m)
    gaps = rng.geometric(BURST_GAP_P, sizes.sum()) - 1
    fraud_channel = world.fraud_channels[draw(world.fraud_channel_cdf, rng, m)]
    channel = np.where(
        rng.random(m) < FRAUD_ON_FRAUD_CHANNEL, fraud_channel, draw(world.channel_cdf, rng, m)
    ).astype(np.int32)
    fraud = {
        "t": _session_times(starts, sizes, gaps),
        "ip": np.repeat(world.fraud_ip[bot], sizes),
        "app": np.repeat(draw(world.app_cdf, rng, m).astype(np.int32), sizes),
        "device": np.repeat(world.fraud_device[bot], sizes),
        "os": np.repeat(world.fraud_os[bot], sizes),
        "channel": np.repeat(channel, sizes),
        "fraud": np.ones(sizes.sum(), dtype=bool),
    }
    return honest, fraud

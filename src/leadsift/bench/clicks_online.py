"""Section `clicks_online`: the online click scorer (`make serve PIPELINE=clicks`) against the
batch stage, on the clicks pipeline built at the default size: the whole test day replayed in
process in time order (every feature and probability compared with the batch stage's, and clicks
per second on one core in micro-batches of 1,000), one click per request over HTTP from one
client and from eight, and the state's memory for ten million distinct users.
"""

from __future__ import annotations

import http.client
import json
import math
import multiprocessing
import os
import resource
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from leadsift.bench.harness import Bench, Result, check, log, project_copy, quiet
from leadsift.bench.serving import (
    CLIENTS,
    free_port,
    post_concurrently,
    post_record,
    serving_process,
)
from leadsift.clicks.features import DAY

MICRO_BATCH, REQUESTS, CONCURRENT_REQUESTS = 1_000, 1_000, 2_000
USERS = 10_000_000


def _one_core() -> None:
    """Pin this process (and the threads it starts) to one core."""
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})


def _test_day(connection: Any, repo: Path) -> int:
    (day,) = connection.execute(
        f"SELECT MAX(day) FROM '{repo}/data/clicks/features.parquet' "
        "WHERE is_attributed IS NOT NULL"
    ).fetchone()
    return int(day)


def replay_test_day(repo: str) -> dict[str, Any]:
    """In a process on one core: the state warmed from the log before the test day, then the
    day's clicks in time order, `MICRO_BATCH` at a time (timed: remember, features, probability;
    not the copies kept for the comparison); then each click's features and probability against
    the batch stage's."""
    import duckdb  # noqa: PLC0415
    import pandas as pd  # noqa: PLC0415

    from leadsift.clicks.features import feature_names  # noqa: PLC0415
    from leadsift.clicks.model import TRUSTED_TYPES  # noqa: PLC0415
    from leadsift.clicks.online import ClickState  # noqa: PLC0415
    from leadsift.core.model_store import load_model  # noqa: PLC0415

    _one_core()
    root = Path(repo)
    scorer = load_model(root / "models/clicks", TRUSTED_TYPES)
    connection = duckdb.connect()
    day = _test_day(connection, root)
    log_ = f"read_parquet('{root}/data/clicks/interim/clicks.parquet')"
    state = ClickState(max_lateness=3600)
    started = time.perf_counter()
    state.warm(connection, log_, until=day * DAY)
    warm_s = time.perf_counter() - started
    clicks = connection.execute(
        f"SELECT click_id, ip, app, device, os, channel, t FROM {log_} "
        f"WHERE t >= {day * DAY} AND t < {(day + 1) * DAY} ORDER BY t, click_id"
    ).df()
    names = feature_names()
    features = np.empty((len(clicks), len(names)))
    probability = np.empty(len(clicks))
    feature_s = replay_s = 0.0
    for start in range(0, len(clicks), MICRO_BATCH):
        part = clicks.iloc[start : start + MICRO_BATCH]
        begun = time.perf_counter()
        rows, _ = state.observe(part)  # what the served scorer does with a request's clicks
        featured = time.perf_counter()
        answer = scorer.answer(rows)
        replay_s += time.perf_counter() - begun
        feature_s += featured - begun
        probability[start : start + len(part)] = answer["probability"].to_numpy()
        features[start : start + len(part)] = rows[names].to_numpy(np.float64)
    batch = pd.read_parquet(root / "data/clicks/features.parquet", filters=[("day", "==", day)])
    batch = batch.set_index("click_id").loc[clicks["click_id"]]
    expected = batch[names].to_numpy(np.float64, na_value=np.nan)
    same = (features == expected) | (np.isnan(features) & np.isnan(expected))
    batch_probability = scorer.answer(batch[names])["probability"].to_numpy()
    return {
        "clicks": len(clicks),
        "replay_s": replay_s,
        "features_s": feature_s,
        "warm_s": warm_s,
        "features_differing": int((~same.all(axis=1)).sum()),
        "by_feature": {
            n: int((~same[:, i]).sum()) for i, n in enumerate(names) if not same[:, i].all()
        },
        "probabilities_differing": int((probability != batch_probability).sum()),
        "state": state.size(),
    }


def state_of_users(users: int, seed: int = 0) -> dict[str, Any]:
    """In a process of its own: a state fed one click of each of `users` distinct users (each on
    its own ip: every key of a user is new) over a day, 100,000 clicks at a time; its size."""
    import pandas as pd  # noqa: PLC0415

    from leadsift.clicks.online import ClickState  # noqa: PLC0415

    rng = np.random.default_rng(seed)
    start = 1_509_926_400
    t = np.sort(start + rng.integers(0, DAY, users))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    state = ClickState(max_lateness=3600)
    for first in range(0, users, 100_000):
        n = min(100_000, users - first)
        state.remember(
            pd.DataFrame(
                {
                    "ip": np.arange(first, first + n),
                    "app": rng.integers(0, 500, n),
                    "device": rng.integers(0, 2000, n),
                    "os": rng.integers(0, 500, n),
                    "channel": rng.integers(0, 300, n),
                    "t": t[first : first + n],
                }
            )
        )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {**state.size(), "peak_rss_growth_mb": (peak - before) / 1024}


def _in_process(function: Any, *args: Any) -> Any:
    """`function(*args)` in a fresh spawned process (its own memory and core affinity)."""
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(function, *args).result()


def _raw_clicks(repo: Path, day: int, n: int) -> list[dict]:
    """The test day's first `n` clicks in time order, as a request sends them."""
    import duckdb  # noqa: PLC0415

    rows = duckdb.sql(
        f"SELECT click_id, ip, app, device, os, channel, "
        f"strftime(to_timestamp(t) AT TIME ZONE 'UTC', '%Y-%m-%d %H:%M:%S') AS click_time "
        f"FROM '{repo}/data/clicks/interim/clicks.parquet' "
        f"WHERE t >= {day * DAY} ORDER BY t, click_id LIMIT {n}"
    ).df()
    return json.loads(rows.to_json(orient="records"))


def serve_latency(repo: Path) -> dict[str, Any]:
    """`make serve PIPELINE=clicks` warmed from the log before the test day; its first clicks
    one per request, from one client, then from `CLIENTS` at once (each in time order)."""
    import duckdb  # noqa: PLC0415

    day = _test_day(duckdb.connect(), repo)
    warm_log = repo / "data/clicks/before_test_day.parquet"
    duckdb.sql(
        f"COPY (SELECT * FROM '{repo}/data/clicks/interim/clicks.parquet' WHERE t < {day * DAY}) "
        f"TO '{warm_log}' (FORMAT parquet)"
    )
    clicks = _raw_clicks(repo, day, 50 + REQUESTS + CONCURRENT_REQUESTS)
    port = free_port()
    command = [sys.executable, "-m", "leadsift.serve", "--pipeline", "clicks", "--model",
               "models/clicks", "--log", str(warm_log), "--port", str(port)]  # fmt: skip
    with serving_process(command, repo, port, seconds=300):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        timed = [post_record(connection, click) for click in clicks[: 50 + REQUESTS]][50:]
        connection.close()
        pool = clicks[50 + REQUESTS :]
        done = post_concurrently(port, [pool[k::CLIENTS] for k in range(CLIENTS)])
    latencies = [ms for ms, _, _ in timed]
    together = [t for times, _ in done for t in times]
    return {
        "single": np.percentile(latencies, [50, 99]).tolist(),
        "single_errors": sum(status != 200 for _, status, _ in timed),
        "concurrent": np.percentile(together, [50, 99]).tolist() if together else [math.nan] * 2,
        "concurrent_errors": sum(e for _, e in done),
        "requests": len(latencies),
        "concurrent_requests": len(pool),
    }


def run(bench: Bench) -> list[Result]:
    """The clicks pipeline built at the default size (or the run's smoke size), then the replay,
    the server and the state of ten million users."""
    overrides = {"generate_clicks.n_clicks": bench.clicks_default} if bench.clicks_default else {}
    repo = project_copy(bench.workdir / "clicks_online", overrides)
    log("clicks_online: building the clicks pipeline to its package")
    quiet(["dvc", "repro", "clicks_package"], repo)
    log("clicks_online: replaying the test day through the online scorer on one core")
    replay = _in_process(replay_test_day, str(repo))
    log("clicks_online: one click per request over HTTP")
    served = serve_latency(repo)
    n_users = bench.clicks_default or USERS  # a smoke run's log size
    log(f"clicks_online: the state of {n_users:,} distinct users")
    users = _in_process(state_of_users, n_users)
    per_second = replay["clicks"] / replay["replay_s"]
    state_mb = users["bytes"] / 2**20
    return [
        check("online click features differing from the batch stage's, test day",
              replay["features_differing"], clicks=replay["clicks"],
              by_feature=replay["by_feature"]),
        check("online click probabilities differing from the batch score, test day",
              replay["probabilities_differing"], clicks=replay["clicks"]),
        check("online click scoring on one core, micro-batches of 1,000", per_second,
              features_only_per_s=round(replay["clicks"] / replay["features_s"]),
              features_share=round(replay["features_s"] / replay["replay_s"], 3),
              warm_start_s=round(replay["warm_s"], 2), state=replay["state"]),
        check("clicks serving p99 latency", served["single"][1],
              also=served["single_errors"] == 0, p50_ms=round(served["single"][0], 2),
              requests=served["requests"], errors=served["single_errors"]),
        check("clicks serving p99 latency, 8 concurrent clients", served["concurrent"][1],
              also=served["concurrent_errors"] == 0, p50_ms=round(served["concurrent"][0], 2),
              requests=served["concurrent_requests"], errors=served["concurrent_errors"]),
        check("click state memory, distinct users", state_mb, at=(n_users,),
              bytes_per_user=round(users["bytes"] / n_users, 1), events=users["events"],
              keys=users["keys"], peak_rss_growth_mb=round(users["peak_rss_growth_mb"])),
    ]  # fmt: skip

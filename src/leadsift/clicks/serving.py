"""`make serve PIPELINE=clicks`: the click model answering clicks as they happen, from the clicks
before them, with no train/serve skew.

A request holds raw clicks in the log's own columns (config.yaml `clicks:` roles; `click_id` may
be left out), one or many, in time order. They are read by the prepare stage's contract, in the
same engine, so a time parses to the same second and a row the batch would quarantine gets a 400
naming the row, column and problem. The clicks are then remembered by the scorer's `ClickState`
and their features computed under the batch stage's rule for the past
(`leadsift.clicks.online`), and the registered model answers each: its probability, whether it
is flagged as worth least, a tier, whether it came late, and the features that raised and lowered
its score most.

At start the state is warmed from the last day of the prepared log (`serve.click_log`), so a
restarted server scores the next click as an uninterrupted one would. The state is one, so the
scorer runs in one worker process.
"""

from __future__ import annotations

import dataclasses
import re
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from leadsift.clicks import engine
from leadsift.clicks.model import ClickScorer
from leadsift.clicks.online import ClickState
from leadsift.clicks.schema import IDS, MAX_ID, ClickRoles, reasons_sql, typed_sql
from leadsift.core.contract import ContractBreachError
from leadsift.core.io import first_few
from leadsift.core.treeshap import contributions

PLAIN_TIME = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}")  # the log's own way
TIME_FORMAT, EPOCH = "%Y-%m-%d %H:%M:%S", pd.Timestamp("1970-01-01")
CLOCK_SKEW_S = 300  # a click this far past the server's clock is refused as from the future
TIERS = ("low", "medium", "high")  # flagged as worth least; the rest; more likely than not
N_REASONS = 3
REPORT_EVERY = 100_000  # clicks between two lines on the state's size


def top_reasons(effects: np.ndarray, values: np.ndarray, names: list[str]) -> pd.DataFrame:
    """`raises_1..3` and `lowers_1..3`: per click, the features that moved its log-odds most up
    and down, as `name = value (+effect)`; empty where fewer did."""
    out = {}
    rows = np.arange(len(effects))
    for direction, sign in (("raises", 1), ("lowers", -1)):
        order = np.argsort(-sign * effects, axis=1, kind="stable")[:, :N_REASONS]
        for slot in range(order.shape[1]):
            chosen = order[:, slot]
            out[f"{direction}_{slot + 1}"] = [
                f"{names[c]} = {'missing' if np.isnan(v) else f'{v:g}'} ({e:+.2f})"
                if sign * e > 0
                else ""
                for c, v, e in zip(chosen, values[rows, chosen], effects[rows, chosen], strict=True)
            ]
    return pd.DataFrame(out)


class OnlineClickScorer:
    """The registered click model (`ClickScorer`) with a `ClickState`: `predict` takes raw click
    records, `answer` clicks already read (ids and `t`)."""

    def __init__(self, scorer: ClickScorer, state: ClickState, roles: ClickRoles) -> None:
        self.scorer, self.state = scorer, state
        self.roles = dataclasses.replace(roles, attributed_time=None, is_attributed=None)
        self.connection = duckdb.connect(config={"threads": 1})
        self.connection.execute("SET TimeZone = 'UTC'")
        self.scored = 0

    def read(self, records: pd.DataFrame) -> pd.DataFrame:
        """Raw click records read by the log's contract: click_id (or missing), ids and `t`;
        records that break it are refused, naming each row and its reasons."""
        if not len(records):
            raise ContractBreachError("no clicks to score: send at least one")
        roles = self.roles
        if roles.click_id is not None and roles.click_id not in records.columns:
            roles = dataclasses.replace(roles, click_id=None)
        needed = [c for c in roles.columns if c not in records.columns]
        if needed:
            raise ContractBreachError(f"every row: missing column(s) {needed}")
        clicks = self.read_plain(records, roles)
        clicks = self.read_by_contract(records, roles) if clicks is None else clicks
        ahead = np.flatnonzero(clicks["t"].to_numpy() > time.time() + CLOCK_SKEW_S)
        if len(ahead):  # one would move the state's clock past every click to come
            rows = first_few([f"row {r}" for r in ahead], 10)
            raise ContractBreachError(
                f"{len(ahead)} click(s) were not scored: click_time in the future ({rows})"
            )
        return clicks

    def read_plain(self, records: pd.DataFrame, roles: ClickRoles) -> pd.DataFrame | None:
        """The clicks, when every id is an integer within the contract's range and every time is
        written `YYYY-MM-DD HH:MM:SS` (UTC; the roles name no other format) and exists: what the
        contract passes, read in a fraction of its time. None when any value needs the
        contract's word (`read_by_contract`)."""
        if roles.time_format not in (None, TIME_FORMAT):
            return None
        ids = {}
        for role in ("click_id", *IDS):
            column = getattr(roles, role)
            if column is None:
                ids[role] = np.full(len(records), np.nan)
                continue
            values = records[column].to_numpy()
            if values.dtype.kind != "i":
                return None
            if (values < 0).any() or (role != "click_id" and (values > MAX_ID).any()):
                return None
            ids[role] = values.astype(np.int64)
        times = records[roles.click_time].to_numpy(dtype=object)
        if not all(isinstance(v, str) and PLAIN_TIME.fullmatch(v) for v in times):
            return None
        parsed = pd.to_datetime(pd.Series(times, dtype=object), format=TIME_FORMAT, errors="coerce")
        if parsed.isna().any():  # a date that does not exist
            return None
        ids["t"] = ((parsed - EPOCH) // pd.Timedelta(seconds=1)).to_numpy(np.int64)
        return pd.DataFrame(ids)

    def read_by_contract(self, records: pd.DataFrame, roles: ClickRoles) -> pd.DataFrame:
        """The clicks read by the prepare stage's whole contract, or refused with its reasons."""
        raw = records[roles.columns].astype(object).where(records[roles.columns].notna(), None)
        self.connection.register("request", raw.assign(file="request", row=np.arange(len(raw))))
        typed = typed_sql(roles, "request", labelled=False)
        query = (
            f"SELECT row, click_id, {', '.join(IDS)}, t, "
            f"{reasons_sql(roles, labelled=False)} AS reason FROM ({typed}) ORDER BY row"
        )
        try:
            read = self.connection.execute(query).df()
        finally:
            self.connection.unregister("request")
        if (broken := read["reason"].notna()).any():
            problems = [
                f"row {r}: {why}"
                for r, why in read.loc[broken, ["row", "reason"]].itertuples(index=False)
            ]
            raise ContractBreachError(
                f"{len(problems)} click(s) were not scored: {first_few(problems, 10, sep='; ')}"
            )
        return read.drop(columns=["row", "reason"])

    def predict(self, records: pd.DataFrame) -> pd.DataFrame:
        """The answers to raw click records (`read`, then `answer`): what /invocations returns."""
        return self.answer(self.read(records))

    def answer(self, clicks: pd.DataFrame, *, reasons: bool = True) -> pd.DataFrame:
        """Each click remembered, then answered from the clicks before it: click_id,
        probability, flagged, tier, late and (with `reasons`) the features that moved it most;
        click_id only where the clicks have one."""
        features, late = self.state.observe(clicks)
        answer = self.scorer.answer(features)
        probability = answer["probability"].to_numpy()
        tier = np.where(answer["flagged"], TIERS[0], np.where(probability >= 0.5, *TIERS[2:0:-1]))
        out = pd.DataFrame(
            {
                "click_id": clicks["click_id"].to_numpy(),
                "probability": probability,
                "flagged": answer["flagged"].to_numpy(),
                "tier": tier,
                "late": late,
            }
        )
        if clicks["click_id"].isna().all():
            out = out.drop(columns="click_id")
        if reasons:
            out = pd.concat([out, self.reasons(features)], axis=1)
        self._report(len(clicks))
        return out

    def reasons(self, features: pd.DataFrame) -> pd.DataFrame:
        """Top contributions, averaged over the model's boosters, on the log-odds scale."""
        names = self.scorer.features
        values = features[names].to_numpy(dtype=np.float64)
        boosters = [b.booster_ for b in self.scorer.model.boosters_]
        effects = np.mean([contributions(b, values)[:, :-1] for b in boosters], axis=0)
        return top_reasons(effects, values, names)

    def record_installs(self, installs: pd.DataFrame) -> None:
        """Installs as they are reported (`ClickState.record_installs`)."""
        self.state.record_installs(installs)

    def _report(self, clicks: int) -> None:
        before, self.scored = self.scored, self.scored + clicks
        if before // REPORT_EVERY != self.scored // REPORT_EVERY:
            print(f"scored {self.scored:,} clicks; {describe(self.state)}", file=sys.stderr)


def describe(state: ClickState) -> str:
    """The state's size, for the log."""
    size = state.size()
    return (
        f"state: {size['events']:,} events of {size['keys']:,} keys, "
        f"{size['bytes'] / 2**20:,.1f} MiB"
    )


def log_source(path: str | Path) -> str:
    """A prepared log (a Parquet file, or a folder of them) as a table expression."""
    path = Path(path)
    files = sorted(path.glob("*.parquet")) if path.is_dir() else [path]
    if not files or not files[0].exists():
        raise FileNotFoundError(
            f"{path}: no prepared click log to warm the scorer from; run `dvc repro clicks_prepare`"
            " or point config.yaml serve.click_log at one"
        )
    return engine.parquet_source(files)


def warm_scorer(
    scorer: ClickScorer, *, params: Mapping[str, Any], log: str | None = None
) -> OnlineClickScorer:
    """The served click scorer, its state rebuilt from the last day of the prepared `log`
    (default: config.yaml serve.click_log)."""
    log = log or params["serve"]["click_log"]
    state = ClickState(max_lateness=params["serve"]["max_lateness"])
    settings = engine.EngineSettings.from_params(params["clicks_engine"])
    with engine.connect(settings) as connection:
        state.warm(connection, log_source(log))
    print(f"warmed from {log}; {describe(state)}", file=sys.stderr, flush=True)
    return OnlineClickScorer(scorer, state, ClickRoles.from_params(params["clicks"]))

"""The sales model: the answer a CRM gets for each lead, from `make serve` and in the sales files.

`SalesScorer` wraps the fitted lead pipeline with the tiers `evaluate` chose and the lead contract.
Raw lead records in; per lead out: the probability of genuine, the 0-100 score, the tier, the junk
flag and, where the family has exact contributions, the reasons (`leads.reasons`). It is the one
model that is registered, served and used by batch scoring, so a lead gets the same answer over
HTTP as in the sales file.

A record that breaks the contract (a negative count, a flag that is not 0 or 1, an unparseable
timestamp) is refused with the row, the column and the problem, the reasons batch scoring
quarantines such a row with: a served lead gets a 400 answer naming them, never a silent score.
The contract is the model's input check (`save_sales_model` saves it without an MLflow signature),
so a request without a column, with a list or an object for a value, or with no records is
refused here too.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.pipeline import Pipeline

from leadsift.core.contract import ContractBreachError, contract_violations, numbers_where_parsed
from leadsift.core.io import first_few
from leadsift.core.model_store import save_model
from leadsift.leads import reasons
from leadsift.leads.metrics import Tiers
from leadsift.leads.models import TRUSTED_TYPES
from leadsift.leads.schema import ColumnRoles, lead_contract, parse_timestamps

BLOCK_ROWS = 100_000  # leads answered at once in a large batch (the answer does not depend on it)
BLOCK_THREADS = 2  # blocks answered side by side: one in pandas while another is in LightGBM


class SalesScorer(BaseEstimator):
    """The lead pipeline with its tiers and contract; `predict` answers what sales needs.

    `roles` are the column roles as plain values (`dataclasses.asdict`), so the saved model holds
    only types a safe loader trusts. Fitting learns nothing: the pipeline comes fitted.
    """

    def __init__(
        self,
        pipeline: Pipeline | None = None,
        cold_below: float = 0.5,
        hot_from: float = float("inf"),
        tier_names: Mapping[str, str] | None = None,
        roles: Mapping[str, Any] | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.cold_below = cold_below
        self.hot_from = hot_from
        self.tier_names = tier_names
        self.roles = roles

    @classmethod
    def package(cls, pipeline: Pipeline, tiers: Tiers, roles: ColumnRoles) -> SalesScorer:
        """The sales model of a fitted pipeline, the tiers chosen for it, and its column roles."""
        names, plain = dict(tiers.names), dataclasses.asdict(roles)
        return cls(pipeline, tiers.cold_below, tiers.hot_from, names, plain)

    def fit(self, X: pd.DataFrame, y: object = None) -> SalesScorer:  # noqa: N803
        return self

    @property
    def tiers(self) -> Tiers:
        return Tiers(self.cold_below, self.hot_from, dict(self.tier_names or {}))

    @property
    def explains(self) -> bool:
        return reasons.explains(self.pipeline)

    @property
    def feature_names_in_(self) -> np.ndarray:
        """The raw record columns the pipeline reads (what the promotion gate checks)."""
        return self.pipeline.feature_names_in_

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:  # noqa: N803
        """The pipeline's probabilities (junk, genuine): what the promotion gate compares."""
        return self.pipeline.predict_proba(X)

    def predict(self, X: pd.DataFrame) -> pd.DataFrame:  # noqa: N803
        """The sales answer for lead records checked against the contract first; records that
        break it raise (over HTTP, a 400 naming the row, column and problem)."""
        if not len(X):
            raise ContractBreachError("no lead records to score: send at least one")
        records, problems = checked_records(X, ColumnRoles(**self.roles))
        if problems:
            refuse(problems)
        return self.answer(records)

    def answer(self, X: pd.DataFrame, with_reasons: bool = True) -> pd.DataFrame:  # noqa: N803
        """Per lead: probability, 0-100 score, tier, junk flag and, where the family has exact
        contributions, `raises_1..3` and `lowers_1..3`. The records must already meet the
        contract (batch scoring quarantines the rows that do not).

        A large batch is answered `BLOCK_ROWS` leads at a time. Every step answers each lead on
        its own (one lead at a time gets the batch's answer, bit for bit), so the answer is the
        same, and each block's matrices stay small (a whole large batch at once builds matrices of
        hundreds of megabytes, and is slower for it). `BLOCK_THREADS` blocks are answered at once:
        LightGBM and numpy release Python's lock, so one block's pandas steps run while another's
        trees predict. No step keeps state while it answers; the exact contributions predict on a
        private copy of the booster (`treeshap.contributions`)."""
        if len(X) <= BLOCK_ROWS:
            return self._answer_block(X, with_reasons)
        blocks = [X.iloc[at : at + BLOCK_ROWS] for at in range(0, len(X), BLOCK_ROWS)]
        with ThreadPoolExecutor(BLOCK_THREADS) as pool:
            answer_block = partial(self._answer_block, with_reasons=with_reasons)
            return pd.concat(list(pool.map(answer_block, blocks)))

    def _answer_block(self, X: pd.DataFrame, with_reasons: bool) -> pd.DataFrame:  # noqa: N803
        if with_reasons and self.explains:
            probability, texts = reasons.explain(self.pipeline, X)
        else:
            probability, texts = self.pipeline.predict_proba(X)[:, 1], None
        tiers = self.tiers
        answer = pd.DataFrame(
            {
                "probability": probability,
                "lead_score": np.round(100 * probability, 1),
                "tier": tiers.assign(probability),
                "is_junk": probability < tiers.cold_below,
            },
            index=X.index,
        )
        return answer if texts is None else pd.concat([answer, texts.set_axis(X.index)], axis=1)


def checked_records(records: pd.DataFrame, roles: ColumnRoles) -> tuple[pd.DataFrame, list[str]]:
    """The records with their numbers sent as text parsed (`numbers_where_parsed`) and their
    creation times parsed, and `row N: <reason>` for each that breaks the lead contract (records
    have no id or target, so those checks do not apply); no reasons when every record meets it.
    Parsed once here, numbers and times are parsed again neither by the contract nor by the
    model's normalising step: a lead sent as text costs about what one sent as JSON numbers does.
    A time that does not parse is missing, which the contract's rule names as it names the text."""
    if missing := [c for c in roles.model_inputs if c not in records.columns]:
        return records, [f"every row: missing column(s) {missing}"]
    # JSON can nest a list or an object where a value belongs (a CSV cannot), and the contract's
    # rules assume single values, so these are refused first
    nested: dict[int, list[str]] = {}
    dtypes = dict(zip(records.columns, records.dtypes, strict=True))  # looked up per column
    for column in roles.model_inputs:
        if pd.api.types.is_object_dtype(dtypes[column]):
            for row, value in enumerate(records[column].tolist()):
                if not pd.api.types.is_scalar(value):
                    kind = type(value).__name__
                    nested.setdefault(row, []).append(f"{column} is a {kind}, not one value")
    if nested:
        return records, [f"row {row}: {'; '.join(texts)}" for row, texts in sorted(nested.items())]
    records = numbers_where_parsed(records, roles.numeric_inputs)
    if roles.timestamp:
        records = records.assign(**{roles.timestamp: parse_timestamps(records[roles.timestamp])})
    contract = lead_contract(dataclasses.replace(roles, id=None))
    found = contract_violations(contract, records.reset_index(drop=True))
    return records, [f"row {i}: {reason}" for i, reason in found.dropna().items()]


def save_sales_model(scorer: SalesScorer, path: str | Path, example: pd.DataFrame) -> None:
    """Save the sales model as an MLflow model whose pyfunc answers `predict`, without an MLflow
    signature: the lead contract checks the records, naming row and column, and a signature would
    have every column cast and checked a second time before it, a large share of a served lead's
    time. The input example still shows the columns."""
    save_model(scorer, path, example, TRUSTED_TYPES, predict_fn="predict", signature=False)


def refuse(problems: list[str]) -> None:
    """Raise for records that break the contract, naming each row's problems, so the caller (over
    HTTP, a 400 answer) sees which column to fix."""
    message = (
        f"{len(problems)} lead record(s) break the lead contract and were not scored: "
        f"{first_few(problems, 10, sep='; ')}. "
        "Fix those values (or leave them empty); batch scoring quarantines such rows"
    )
    raise ContractBreachError(message)

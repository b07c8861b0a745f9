"""Why each lead scored as it did: exact contributions of its raw inputs to the model's log-odds.

The model's raw output for a lead (log-odds of genuine) is split exactly into a base value plus
one contribution per encoded feature: LightGBM computes TreeSHAP values itself (`pred_contrib`);
for a logistic regression they are the linear terms, coefficient x encoded value, with the
intercept as the base. scikit-learn's tree families have no exact contributions without another
library, so they give no reasons (`ReasonsUnavailableError`).

Contributions are then summed per raw input, the way a person reads a lead: a categorical column,
a plain number, an interaction group (its members and its total together), the overall
interaction counts (their total and the number of active groups), and the creation time (its
hour, weekday and month). Base + the sum over raw inputs is still exactly the log-odds.
"""

from __future__ import annotations

import calendar
import math
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import pandas as pd
from lightgbm import LGBMClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

from leadsift.core import treeshap
from leadsift.core.contract import each_distinct, frame_of_columns, groupable, select_columns
from leadsift.leads.features import TIME_PARTS, RareLevelCollapser
from leadsift.leads.metrics import Tiers

OVERALL = "all interactions"  # the interaction total and the count of active groups
N_REASONS = 3  # reasons per direction
FORMAT_EACH_BELOW = 500  # leads; from this many on, each distinct reason text is formatted once


class ReasonsUnavailableError(Exception):
    """The model family has no exact per-lead contributions."""


@dataclass(frozen=True)
class Contributions:
    """Per lead: the base value and each raw input's contribution, in log-odds."""

    base: np.ndarray
    by_input: pd.DataFrame  # leads x raw inputs

    @property
    def log_odds(self) -> np.ndarray:
        return self.base + self.by_input.to_numpy().sum(axis=1)


def group_label(group: str) -> str:
    return f"{group} interactions"


def input_of(feature: str, interaction_groups: dict, timestamp: str | None) -> str:
    """The raw input a model column comes from (after featurizing, before encoding)."""
    for group, members in interaction_groups.items():
        if feature == f"{group}_total" or feature in members:
            return group_label(group)
    if feature in ("interactions_total", "active_groups"):
        return OVERALL
    if timestamp and feature in {f"{timestamp}_{part}" for part in TIME_PARTS}:
        return timestamp
    return feature


def encoded_sources(pipeline: Pipeline) -> list[str]:
    """For each column the classifier sees, the featurized column it encodes."""
    sources = []
    for _, transformer, columns in pipeline.named_steps["encode"].transformers_:
        if transformer == "drop" or not len(columns):
            continue
        last = transformer[-1] if isinstance(transformer, Pipeline) else transformer
        if isinstance(last, OneHotEncoder):
            for column, levels in zip(columns, last.categories_, strict=True):
                sources += [column] * len(levels)
        else:
            sources += list(columns)
    return sources


def explains(pipeline: Pipeline) -> bool:
    return isinstance(pipeline[-1], LGBMClassifier | LogisticRegression)


def _require_contributions(pipeline: Pipeline) -> None:
    if not explains(pipeline):
        raise ReasonsUnavailableError(
            f"{type(pipeline[-1]).__name__} has no exact per-lead contributions; reasons need "
            "model.family lightgbm or logistic_regression"
        )


def contributions(pipeline: Pipeline, records: pd.DataFrame) -> Contributions:
    """Exact contributions of each raw input to each lead's log-odds."""
    _require_contributions(pipeline)
    return _contributions_of(pipeline, pipeline[:-1].transform(records), records.index)


def _contributions_of(pipeline: Pipeline, encoded: np.ndarray, index: pd.Index) -> Contributions:
    """`contributions` from the encoded matrix the classifier reads (rows labelled `index`)."""
    classifier = pipeline[-1]
    if isinstance(classifier, LGBMClassifier):
        values = treeshap.contributions(classifier.booster_, encoded)
        per_feature, base = values[:, :-1], values[:, -1]
    else:
        per_feature = encoded * classifier.coef_[0]
        base = np.full(len(encoded), classifier.intercept_[0])
    featurize = pipeline.named_steps["featurize"]
    groups, timestamp = featurize.interaction_groups or {}, featurize.timestamp
    inputs = [input_of(f, groups, timestamp) for f in encoded_sources(pipeline)]
    names = list(dict.fromkeys(inputs))
    indicator = np.zeros((len(inputs), len(names)))
    indicator[np.arange(len(inputs)), [names.index(i) for i in inputs]] = 1.0
    return Contributions(base, pd.DataFrame(per_feature @ indicator, columns=names, index=index))


def explain(pipeline: Pipeline, records: pd.DataFrame) -> tuple[np.ndarray, pd.DataFrame]:
    """Each lead's probability of genuine and its reason columns, from one pass of the records
    through the pipeline's steps (normalise + featurize, encode, classify): the probability is
    the pipeline's `predict_proba`, bit for bit."""
    _require_contributions(pipeline)
    featurized = pipeline[:2].transform(records)
    encoded = pipeline[2:-1].transform(featurized)
    probability = _probability(pipeline[-1], encoded)
    contribution = _contributions_of(pipeline, encoded, featurized.index)
    texts = reason_columns(contribution, _values_of(pipeline, featurized))
    return probability, texts


def _probability(
    classifier: LGBMClassifier | LogisticRegression, encoded: np.ndarray
) -> np.ndarray:
    """The classifier's `predict_proba(encoded)[:, 1]`. LightGBM's booster computes exactly that
    (its scikit-learn wrapper checks the matrix, which the pipeline's own encoder made, and puts
    1 - p beside it), without the wrapper's checks, most of its cost for a served lead."""
    if isinstance(classifier, LGBMClassifier):
        return classifier.booster_.predict(encoded)
    return classifier.predict_proba(encoded)[:, 1]


def displayed_values(pipeline: Pipeline, records: pd.DataFrame) -> pd.DataFrame:
    """Per lead and raw input, the value a person reads next to its effect (as text)."""
    return _values_of(pipeline, pipeline[:2].transform(records))


def _values_of(pipeline: Pipeline, featurized: pd.DataFrame) -> pd.DataFrame:
    """`displayed_values` from the normalised and featurized records: each distinct level, count
    and time formatted once (`each_distinct`), levels as the model's collapser decides them."""
    featurize = pipeline.named_steps["featurize"]
    groups, timestamp = featurize.interaction_groups or {}, featurize.timestamp
    collapse = pipeline.named_steps["encode"].named_transformers_["categorical"][0]
    shown = {
        column: each_distinct(groupable(featurized[column]), partial(_level_text, collapse, column))
        for column in collapse.levels_
    }
    # a group shows its total; the overall interactions their total
    totals = {group_label(g): f"{g}_total" for g in groups} | {OVERALL: "interactions_total"}
    numbers = {}  # raw input -> the column whose number it shows
    for feature in featurized.columns:
        source = input_of(feature, groups, timestamp)
        if source not in shown and source != timestamp:
            numbers.setdefault(source, totals.get(source, source))
    block = select_columns(featurized, list(numbers.values())).to_numpy(dtype=float)
    for i, source in enumerate(numbers):
        shown[source] = each_distinct(
            block[:, i], lambda v, s=source: f"{s} = missing" if math.isnan(v) else f"{s} = {v:g}"
        )
    if timestamp:
        parts = select_columns(featurized, [f"{timestamp}_{part}" for part in TIME_PARTS])
        parts = parts.to_numpy(dtype=float)
        # hour, weekday and month as one number, to format each distinct time once
        shown[timestamp] = each_distinct(parts @ [10_000, 100, 1], partial(_time_text, timestamp))
    # as Python objects: pandas would copy every text into a string column
    return frame_of_columns(shown, featurized.index, dtype=object)


def _level_text(collapse: RareLevelCollapser, column: str, value: Any) -> str:
    """`column = value`, saying so where the model scores the value as `others`."""
    text = collapse.text_of(value)
    if collapse.level_of(column, value) == collapse.other != text:
        return f"{column} = {text} (scored as others)"
    return f"{column} = {text}"


def _time_text(timestamp: str, packed: float) -> str:
    """The creation time as `HHh, weekday, month` from hour * 10000 + weekday * 100 + month."""
    if math.isnan(packed):
        return f"{timestamp} = missing"
    hour, rest = divmod(int(packed), 10_000)
    day, month = divmod(rest, 100)
    return f"{timestamp} = {hour:02d}h, {calendar.day_abbr[day]}, {calendar.month_abbr[month]}"


def reason_columns(
    contribution: Contributions, values: pd.DataFrame, n: int = N_REASONS
) -> pd.DataFrame:
    """`raises_1..n` and `lowers_1..n`: the inputs that pushed each lead's score up (largest
    first) and down, as `value (+effect)` texts, effects in log-odds; empty when fewer did."""
    effects = contribution.by_input
    matrix, names = effects.to_numpy(), list(effects.columns)
    # a few leads (one served): formatting each text costs less than finding the repeats
    each = len(matrix) < FORMAT_EACH_BELOW
    values = select_columns(values, names)
    cells = values.to_numpy(dtype=object) if each else None
    texts, codes = (None, None) if each else _coded(values)
    rows = np.arange(len(matrix))
    out = {}
    for direction, sign in (("raises", 1), ("lowers", -1)):
        order = np.argsort(-sign * matrix, axis=1, kind="stable")[:, :n]
        for slot in range(min(n, len(names))):
            chosen = order[:, slot]
            effect = matrix[rows, chosen]
            if each:
                column = [
                    f"{text} ({e:+.2f})" if sign * e > 0 else ""
                    for text, e in zip(cells[rows, chosen], effect.tolist(), strict=True)
                ]
            else:
                column = _reason_texts(texts, codes[rows, chosen], effect, sign)
            out[f"{direction}_{slot + 1}"] = column
    return pd.DataFrame(out, index=effects.index)


def _coded(values: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """The distinct texts of all columns, and per cell the position of its text among them."""
    texts, codes = [], []
    for column in values.columns:
        code, distinct = pd.factorize(values[column].to_numpy(dtype=object))
        codes.append(code + sum(map(len, texts)))
        texts.append(distinct)
    return np.concatenate(texts).astype(object), np.column_stack(codes).astype(np.int64)


def _reason_texts(texts: np.ndarray, code: np.ndarray, effect: np.ndarray, sign: int) -> np.ndarray:
    """`text (+0.21)` where the effect has the slot's sign, else empty: `f"{text} ({e:+.2f})"`.
    A batch repeats its values and, to the cent, their effects, so each distinct pair is formatted
    once, from whole cents; an effect within rounding error of half a cent, or huge, is formatted
    as Python rounds it."""
    shown = sign * effect > 0
    scaled = np.abs(effect) * 100
    cents = np.rint(np.minimum(scaled, 2**31 - 1)).astype(np.int64)
    exact = (np.abs(scaled - np.floor(scaled) - 0.5) < 1e-6) | (scaled >= 2**31 - 1)
    mark = "+" if sign > 0 else "-"

    def pair_text(key: int) -> str:  # the text's position and the cents, packed in one number
        if key < 0:
            return ""
        text, cents = texts[key >> 32], key & 0xFFFFFFFF
        return f"{text} ({mark}{cents // 100}.{cents % 100:02d})"

    result = each_distinct(np.where(shown & ~exact, (code << 32) | cents, -1), pair_text)
    for i in np.flatnonzero(shown & exact):
        result[i] = f"{texts[code[i]]} ({effect[i]:+.2f})"
    return result


def global_view(contribution: Contributions) -> pd.DataFrame:
    """Mean |contribution| per raw input over the leads (log-odds), largest first: how much each
    input moves scores, the exact counterpart of permutation importance."""
    table = pd.DataFrame(
        {
            "feature": contribution.by_input.columns,
            "importance": contribution.by_input.abs().mean().to_numpy(),
            "std": 0.0,
        }
    )
    return table.sort_values(["importance", "feature"], ascending=[False, True], ignore_index=True)


def example_positions(probability: np.ndarray, tier: np.ndarray, tiers: Tiers) -> dict[str, int]:
    """Three leads to show: a typical hot one (the hot tier's median score), the one closest to
    the business threshold (borderline) and a typical cold one; a tier without leads is left out."""
    probability = np.asarray(probability)
    targets = {"borderline": tiers.cold_below}
    for label, key in (("hot", "hot"), ("junk", "cold")):
        inside = tier == tiers.names[key]
        if inside.any():
            targets[label] = float(np.median(probability[inside]))
    return {
        label: int(np.argmin(np.abs(probability - targets[label])))
        for label in ("hot", "borderline", "junk")
        if label in targets
    }

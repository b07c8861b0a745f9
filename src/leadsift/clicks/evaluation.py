"""The click model judged on whole days, scored out of core, next to the ceiling, in the terms
marketing uses.

A day is scored a block of rows at a time (the engine streams the features, the model answers
each block); only the labels, the scores and each click's channel and app are kept, a few bytes a
click. On the embedded log the truth's `p_true` is scored alongside: its ROC-AUC and log loss are
the ceiling of any online model, since it depends only on what is known at the click.

The business view flags the clicks worth least: below the score that a share `1 - keep_installs`
of the test day's installs fall under, what share of the day's clicks, and of its spend (at
`cost_per_click`), goes; the score stage flags later days' clicks with that threshold.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
from sklearn.metrics import roc_auc_score

from leadsift.clicks import engine
from leadsift.clicks.features import day_name
from leadsift.clicks.model import TRUSTED_TYPES, ClickModel, ClickScorer
from leadsift.core import curves
from leadsift.core.gate import Comparison, champion_scores, compare_paired, require_inputs
from leadsift.core.model_store import load_model

SOURCES = ("channel", "app")


@dataclass(frozen=True)
class Scored:
    """A day's clicks as scored: label, the model's probability, the truth's (if known), and the
    sources each click came through."""

    y: np.ndarray
    score: np.ndarray
    truth: np.ndarray | None
    sources: pd.DataFrame  # channel, app


def truth_applies(raw_path: str | Path, truth_dir: str | Path) -> bool:
    """The generator's truth belongs to its own log only: the log read (`clicks.raw_path`) must be
    the folder the generator wrote beside the truth, not a team's own export."""
    return (
        Path(raw_path).resolve().parent == Path(truth_dir).resolve().parent
        and Path(truth_dir).is_dir()
    )


def scored_days(
    connection: duckdb.DuckDBPyConnection,
    model: ClickModel,
    features: str,
    days: Sequence[int],
    truth_dir: Path | None = None,
) -> Scored:
    """The clicks of `days`, scored block by block in click_id order (with `truth_dir`, the
    generator's `p_true` of the same clicks beside them). The arrays are allocated once at the
    days' size and filled a block at a time: about 30 bytes a click, nothing else kept."""
    listed = ", ".join(str(d) for d in days)
    selected = f"FROM {features} WHERE day IN ({listed})"
    [(n,)] = connection.execute(f"SELECT COUNT(*) {selected}").fetchall()
    columns = ", ".join(dict.fromkeys(["click_id", *model.features, *SOURCES]))
    blocks = engine.in_file_order(connection, f"SELECT {columns}, is_attributed {selected}")
    truths = truth_blocks(connection, truth_dir, days) if truth_dir else None
    y, score = np.empty(n, np.int8), np.empty(n, float)
    truth = np.empty(n, float) if truths else None
    sources = {source: np.empty(n, np.int32) for source in SOURCES}
    start = 0
    for batch in blocks:
        frame = batch.to_pandas()
        rows = slice(start, start + len(frame))
        y[rows] = frame["is_attributed"].to_numpy(dtype=np.int8)
        score[rows] = model.predict_proba(frame)[:, 1]
        for source, values in sources.items():
            values[rows] = frame[source].to_numpy(np.int32)
        if truths:
            truth[rows] = matching_truth(next(truths, None), frame["click_id"], truth_dir)
        start += len(frame)
    if truths and next(truths, None) is not None:
        matching_truth(None, pd.Series([], dtype="int64"), truth_dir)  # truth has more clicks
    return Scored(y, score, truth, pd.DataFrame(sources))


def truth_blocks(
    connection: duckdb.DuckDBPyConnection, truth_dir: Path, days: Sequence[int]
) -> Iterator[pa.RecordBatch]:
    """The generator's `p_true` of the days, in the same fixed-size blocks and click_id order as
    the days' features (a join would hold the whole day), on a cursor of their own so both
    stream at once."""
    paths = [Path(truth_dir) / f"{day_name(day)}.parquet" for day in days]
    query = f"SELECT click_id, p_true FROM {engine.parquet_source(paths)}"
    return engine.in_file_order(connection.cursor(), query)


def matching_truth(
    block: pa.RecordBatch | None, click_ids: pd.Series, truth_dir: Path
) -> np.ndarray:
    """`p_true` of a block of truth, which must hold exactly the clicks of the features' block."""
    if block is None or not np.array_equal(block.column("click_id").to_numpy(), click_ids):
        raise ValueError(
            f"{truth_dir}: the truth holds other clicks than the features of the same days; "
            "rebuild both with `dvc repro clicks_features`"
        )
    return block.column("p_true").to_numpy()


def quality(y: np.ndarray, score: np.ndarray) -> dict[str, float]:
    """Ranking and probability quality of a score, and the installs it predicts, in a few bytes a
    click beyond the arrays (a day of TalkingData's size is 46 million clicks): ROC-AUC as the
    Mann-Whitney statistic and PR-AUC as scikit-learn's average precision, both read off the
    sorted scores of the negatives; log loss and Brier score summed block by block."""
    positives = score[y == 1]
    negatives = score[y == 0]
    negatives.sort()
    below = np.searchsorted(negatives, positives, side="left")
    tied = np.searchsorted(negatives, positives, side="right") - below
    n_pos, n_neg = len(positives), len(negatives)
    return {
        "roc_auc": float((below.sum() + tied.sum() / 2) / (n_pos * n_neg)),
        "pr_auc": average_precision(positives, negatives),
        "log_loss": blockwise_mean(y, score, log_losses),
        "brier": blockwise_mean(y, score, lambda y, p: (p - y) ** 2),
        "predicted_installs": float(score.sum()),
    }


def average_precision(positives: np.ndarray, sorted_negatives: np.ndarray) -> float:
    """scikit-learn's average precision: over the distinct scores of the positives, highest first,
    the precision at that threshold weighted by the share of positives it adds."""
    values, counts = np.unique(positives, return_counts=True)
    values, counts = values[::-1], counts[::-1]
    true_positives = np.cumsum(counts)
    false_positives = len(sorted_negatives) - np.searchsorted(sorted_negatives, values, "left")
    precision = true_positives / (true_positives + false_positives)
    return float((counts * precision).sum() / len(positives))


def log_losses(y: np.ndarray, score: np.ndarray) -> np.ndarray:
    """Each click's log loss, the score clipped away from 0 and 1."""
    p = np.clip(score, 1e-15, 1 - 1e-15)
    return -np.where(y == 1, np.log(p), np.log1p(-p))


def blockwise_mean(
    y: np.ndarray,
    score: np.ndarray,
    per_row: Callable[[np.ndarray, np.ndarray], np.ndarray],
    block: int = 1_000_000,
) -> float:
    """The mean of `per_row` over all rows, computed a block at a time so its temporaries stay
    the size of a block."""
    total = sum(
        float(per_row(y[i : i + block], score[i : i + block]).sum())
        for i in range(0, len(y), block)
    )
    return total / len(y)


def flag_threshold(y: np.ndarray, score: np.ndarray, keep: float) -> float:
    """The score below which at most a share `1 - keep` of the installs fall."""
    positives = np.sort(score[y == 1])
    if not len(positives):
        return 0.0
    return float(positives[int(np.floor((1 - keep) * len(positives)))])


def flagged_view(scored: Scored, threshold: float, cost_per_click: float) -> dict[str, float]:
    """What flagging the clicks scored below `threshold` means: clicks, spend, installs."""
    flagged = scored.score < threshold
    installs = scored.y == 1
    return {
        "threshold": threshold,
        "clicks_flagged": float(flagged.mean()),
        "installs_flagged": float(flagged[installs].mean()) if installs.any() else 0.0,
        "installs_kept": float((~flagged)[installs].mean()) if installs.any() else 1.0,
        "spend": float(len(flagged) * cost_per_click),
        "spend_flagged": float(flagged.sum() * cost_per_click),
    }


def by_source(scored: Scored, source: str) -> pd.DataFrame:
    """Per level of `source` (channel or app): clicks, installs observed and predicted (and
    expected by the truth), their rates, most clicks first."""
    frame = pd.DataFrame(
        {source: scored.sources[source].to_numpy(), "y": scored.y, "score": scored.score}
        | ({"truth": scored.truth} if scored.truth is not None else {})
    )
    table = frame.groupby(source).agg(
        clicks=("y", "size"),
        installs=("y", "sum"),
        predicted=("score", "sum"),
        **({"expected": ("truth", "sum")} if scored.truth is not None else {}),
    )
    table["install_rate"] = table["installs"] / table["clicks"]
    table["predicted_rate"] = table["predicted"] / table["clicks"]
    return table.sort_values(["clicks", "installs"], ascending=False).reset_index()


def suspect_sources(table: pd.DataFrame, source: str, top: int) -> pd.DataFrame:
    """The levels with the most clicks whose predicted install rate is below a tenth of the
    day's: traffic that almost never installs (click farms, fraud)."""
    overall = table["predicted"].sum() / table["clicks"].sum()
    return table[table["predicted_rate"] < overall / 10].head(top)[
        [source, "clicks", "installs", "predicted", "predicted_rate"]
    ]


def evaluate(
    test: Scored, settings: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, pd.DataFrame]]:
    """The test day's summary (model, ceiling, their ratios, the flagged view, suspect sources)
    and its tables (curves, calibration, by channel and app)."""
    threshold = flag_threshold(test.y, test.score, settings["keep_installs"])
    model = quality(test.y, test.score)
    summary: dict[str, Any] = {
        "clicks": len(test.y),
        "attributed": int(test.y.sum()),
        "model": model,
        "flagged": flagged_view(test, threshold, settings["cost_per_click"]),
        "keep_installs": settings["keep_installs"],
    }
    if test.truth is not None:
        ceiling = quality(test.y, test.truth)
        summary["ceiling"] = ceiling
        summary["ratios"] = {
            "roc_auc": model["roc_auc"] / ceiling["roc_auc"],
            "log_loss": model["log_loss"] / ceiling["log_loss"],
        }
    summary["installs_ratio"] = model["predicted_installs"] / max(summary["attributed"], 1)
    points = settings["curve_points"]
    tables = {
        "roc": curves.roc_table(test.y, test.score, points),
        "pr": curves.pr_table(test.y, test.score, points),
        "calibration": curves.calibration_table(
            test.y, test.score, settings["calibration_bins"], counted="clicks"
        ),
    }
    if test.truth is not None:
        tables["roc_truth"] = curves.roc_table(test.y, test.truth, points)
    for source in SOURCES:
        table = by_source(test, source)
        tables[f"by_{source}"] = table
        summary[f"suspect_{source}s"] = suspect_sources(
            table, source, settings["top_sources"]
        ).to_dict(orient="records")
    return summary, tables


def champion_comparison(
    model: ClickScorer, sample: pd.DataFrame, gate: Mapping[str, Any]
) -> Callable[[str], Comparison]:
    """How the gate compares a served click model with the champion: both score the same test-day
    clicks (every attributed one and a share of the rest: ROC-AUC needs no weights), and a paired
    bootstrap over them brackets the difference (`clicks_register.*`). A champion that reads
    columns the features lack cannot be compared."""
    y = sample["is_attributed"].to_numpy()

    def roc_auc(scores: np.ndarray, rows: np.ndarray) -> float:
        if y[rows].min() == y[rows].max():
            return float("nan")
        return float(roc_auc_score(y[rows], scores[rows]))

    def compare(champion_uri: str) -> Comparison:
        champion = load_model(champion_uri, TRUSTED_TYPES)
        require_inputs(list(champion.features), sample)
        return compare_paired(
            roc_auc,
            model.predict_proba(sample)[:, 1],
            champion_scores(lambda: champion.predict_proba(sample)[:, 1]),
            n_bootstrap=gate["n_bootstrap"],
            confidence=gate["confidence"],
            seed=gate["seed"],
        )

    return compare

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

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score

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
    generator's `p_true` of the same clicks beside them)."""
    columns = ", ".join(dict.fromkeys(["click_id", *model.features, *SOURCES]))
    listed = ", ".join(str(d) for d in days)
    query = f"SELECT {columns}, is_attributed FROM {features} WHERE day IN ({listed})"
    ids, y, score, sources = [], [], [], []
    for batch in engine.in_file_order(connection, query):
        frame = batch.to_pandas()
        ids.append(frame["click_id"].to_numpy())
        y.append(frame["is_attributed"].to_numpy(dtype=np.int8))
        score.append(model.predict_proba(frame)[:, 1])
        sources.append(frame[list(SOURCES)])
    click_ids = np.concatenate(ids)
    return Scored(
        np.concatenate(y),
        np.concatenate(score),
        truth_of(connection, truth_dir, days, click_ids) if truth_dir else None,
        pd.concat(sources, ignore_index=True),
    )


def truth_of(
    connection: duckdb.DuckDBPyConnection,
    truth_dir: Path,
    days: Sequence[int],
    click_ids: np.ndarray,
) -> np.ndarray:
    """`p_true` of `click_ids` (the days' clicks in click_id order), read from the generator's
    files of those days in their own click_id order: a join would hold the whole day."""
    paths = [Path(truth_dir) / f"{day_name(day)}.parquet" for day in days]
    found = connection.execute(
        f"SELECT click_id, p_true FROM {engine.parquet_source(paths)}"
    ).fetchnumpy()
    if not np.array_equal(found["click_id"], click_ids):
        raise ValueError(
            f"{truth_dir}: the truth of {', '.join(map(day_name, days))} holds other clicks than "
            "the features of those days; rebuild both with `dvc repro clicks_features`"
        )
    return np.asarray(found["p_true"], dtype=float)


def quality(y: np.ndarray, score: np.ndarray) -> dict[str, float]:
    """Ranking and probability quality of a score, and the installs it predicts."""
    clipped = np.clip(score, 1e-15, 1 - 1e-15)
    return {
        "roc_auc": float(roc_auc_score(y, score)),
        "pr_auc": float(average_precision_score(y, score)),
        "log_loss": float(log_loss(y, clipped, labels=[0, 1])),
        "brier": float(brier_score_loss(y, score)),
        "predicted_installs": float(score.sum()),
    }


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

"""The promotion gate's rule, without MLflow: where promotion is on, how a candidate is compared
with the champion, and what the gate decides. `core.registry` applies the decision to MLflow.

The rule, for either pipeline's model and its own quality metric:

- below the metric's absolute floor, or a further floor of the pipeline's (the segments'
  stability): rejected, no alias;
- no champion yet: the first model above the floor is promoted;
- a champion that cannot read the current data (it reads columns they do not have, as after a
  switch to a team's own data): there is nothing to compare, so the first model above the floor on
  these data is promoted, and the reasons say why;
- otherwise both models are measured on the *same* current rows, and a paired bootstrap gives a
  confidence interval for the difference; the new model is promoted only if the interval's lower
  end exceeds the required improvement. Otherwise it becomes the `challenger`.

The gate decides on every run, but only main moves aliases. Promotion is on when
`LEADSIFT_PROMOTION=on`, off when it is `off`, and otherwise (`auto`, the default) on in the
workspace of `promotion.main_branch` and off in DVC experiments and on any other branch or detached
checkout, such as a pull request's. With promotion off the gate records what it would do
(`would_promote`) and registers nothing.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from leadsift.core.io import InputError, first_few

CHAMPION = "champion"

CHALLENGER = "challenger"

PROMOTION_ENV = "LEADSIFT_PROMOTION"


@dataclass(frozen=True)
class Mode:
    """Whether this run may move aliases, and why (said in the report)."""

    promote: bool
    why: str


def current_branch() -> str | None:
    """The checked-out git branch, or None when HEAD is detached (as in a pull request's CI)."""
    command = ["git", "symbolic-ref", "--short", "-q", "HEAD"]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    return result.stdout.strip() or None


def promotion_mode(
    main_branch: str, env: Mapping[str, str] | None = None, branch: str | None = None
) -> Mode:
    """Promotion is on only in the workspace of the main branch, unless LEADSIFT_PROMOTION says."""
    env = os.environ if env is None else env
    setting = (env.get(PROMOTION_ENV) or "auto").strip().lower()
    if setting in ("on", "off"):
        return Mode(setting == "on", f"{PROMOTION_ENV}={setting}")
    if setting != "auto":
        raise InputError(f"{PROMOTION_ENV} must be on, off or auto; got {setting!r}")
    if experiment := env.get("DVC_EXP_NAME"):
        return Mode(False, f"DVC experiment {experiment}")
    branch = current_branch() if branch is None else branch
    if branch == main_branch:
        return Mode(True, f"workspace of {main_branch}")
    return Mode(False, f"branch {branch}, not {main_branch}" if branch else "detached checkout")


@dataclass(frozen=True)
class Comparison:
    """New minus champion value of the gate's metric, with a bootstrap confidence interval."""

    difference: float
    low: float
    high: float
    confidence: float


def compare_paired(
    metric: Callable[[np.ndarray, np.ndarray], float],
    new: np.ndarray,
    old: np.ndarray,
    *,
    n_bootstrap: int,
    confidence: float,
    seed: int,
) -> Comparison:
    """Paired bootstrap: resample the rows, measure both models on the same resample each time.

    `metric(values, rows)` measures one model's per-row values (scores, labels...) on `rows`; it
    returns NaN where a resample cannot be measured (e.g. only one class), which is skipped.
    """
    new, old = np.asarray(new), np.asarray(old)
    rng = np.random.default_rng(seed)
    everything = np.arange(len(new))
    differences = []
    for _ in range(n_bootstrap):
        rows = rng.integers(0, len(new), len(new))
        difference = metric(new, rows) - metric(old, rows)
        if not np.isnan(difference):
            differences.append(difference)
    tail = (1 - confidence) / 2
    low, high = np.quantile(differences, [tail, 1 - tail])
    difference = metric(new, everything) - metric(old, everything)
    return Comparison(float(difference), float(low), float(high), confidence)


class ChampionCannotScoreError(Exception):
    """The champion cannot answer the current rows: a pipeline's comparison raises it, and the
    gate judges the candidate as the first model on these data (`decide`'s `unscorable`)."""


def champion_scores(score: Callable[[], np.ndarray]) -> np.ndarray:
    """The champion's answers, or `ChampionCannotScoreError` when it fails to give them: a
    champion saved with other code (its class has changed since) cannot be compared."""
    try:
        return score()
    except (AttributeError, KeyError, TypeError, ValueError) as error:
        raise ChampionCannotScoreError(
            f"it fails with this checkout's code ({type(error).__name__}: {error})"
        ) from error


def require_inputs(columns: Sequence[str], rows: pd.DataFrame, *, complete: bool = False) -> None:
    """Raise `ChampionCannotScoreError` when `rows` lack one of the champion's input `columns`
    or, with `complete` (a model that takes no missing value), a value in one of them."""
    if absent := [c for c in columns if c not in rows.columns]:
        raise ChampionCannotScoreError(f"it reads {_columns(absent)}, which the current data lack")
    if complete and (gaps := [c for c in columns if rows[c].isna().any()]):
        lacking = int(rows[gaps].isna().any(axis=1).sum())
        raise ChampionCannotScoreError(
            f"it needs {_columns(gaps)}, which {lacking:,} of the {len(rows):,} current rows lack"
        )


def _columns(names: Sequence[str], shown: int = 6) -> str:
    return f"column(s) {first_few(names, shown)}"


@dataclass(frozen=True)
class Floor:
    """A value a model must reach to be promoted at all."""

    label: str
    value: float
    floor: float

    @property
    def cleared(self) -> bool:
        return self.value >= self.floor

    @property
    def reason(self) -> str:
        side = "clears" if self.cleared else "is below"
        return f"{self.label} {self.value:.4f} {side} the floor {self.floor}"


@dataclass(frozen=True)
class Candidate:
    """The model the gate decides on, its value of the gate's metric, and any further floors it
    must clear (the segments' stability, say), which no comparison with the champion outweighs."""

    model_dir: Path
    metric: str  # a short key, e.g. test_roc_auc: the version's tag
    label: str  # how reasons name it, e.g. "test ROC-AUC"
    value: float
    floor: float
    also: tuple[Floor, ...] = ()

    @property
    def floors(self) -> list[Floor]:
        return [Floor(self.label, self.value, self.floor), *self.also]

    @property
    def clears_floors(self) -> bool:
        return all(f.cleared for f in self.floors)


@dataclass(frozen=True)
class Decision:
    outcome: str  # promoted | challenger | rejected | unchanged
    alias: str | None
    reasons: list[str] = field(default_factory=list)


def decide(
    candidate: Candidate,
    *,
    min_improvement: float,
    comparison: Comparison | None,
    champion_version: str | None,
    unscorable: str | None = None,
) -> Decision:
    """Apply the gate to a model that is not the champion (see the module docstring).
    `unscorable` says why the champion could not answer the current data, if it could not."""
    label = candidate.label
    if not candidate.clears_floors:
        return Decision("rejected", None, [f.reason for f in candidate.floors if not f.cleared])
    above = [f.reason for f in candidate.floors]
    if unscorable:
        why = f"champion version {champion_version} cannot score the current data: {unscorable}"
        return Decision("promoted", CHAMPION, [*above, why])
    if comparison is None:
        return Decision("promoted", CHAMPION, [*above, "there is no champion yet"])
    interval = (
        f"{label} difference to champion version {champion_version}: "
        f"{comparison.difference:+.4f}, {comparison.confidence:.0%} interval "
        f"[{comparison.low:+.4f}, {comparison.high:+.4f}]"
    )
    if comparison.low > min_improvement:
        return Decision(
            "promoted", CHAMPION, [*above, interval, f"lower end above {min_improvement}"]
        )
    verdict = f"not clearly better: the lower end is not above {min_improvement}"
    return Decision("challenger", CHALLENGER, [*above, interval, verdict])

"""The effect of one continuous treatment on an outcome, adjusted for confounders, by double
machine learning (Chernozhukov et al., 2018), with the naive slope beside it and a placebo.

The partially linear model Y = theta * D + g(X) + e with D = m(X) + v: both nuisances, E[Y|X] and
E[D|X], are learned by any scikit-learn regressor on the folds a row is not in (cross-fitting), and
theta is the slope of Y's residual on D's (Neyman-orthogonal: errors in the nuisances enter only as
their product). The split is repeated and the median taken, its spread added to the variance.
Theta is causal only if X holds every common cause of D and Y and nothing D causes (a mediator);
which columns those are is the caller's claim, stated in its report.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats
from sklearn.base import RegressorMixin, clone
from sklearn.model_selection import KFold


@dataclass(frozen=True)
class Effect:
    """An estimate with its standard error and a two-sided confidence interval."""

    estimate: float
    std_error: float
    lower: float
    upper: float
    level: float

    @classmethod
    def normal(cls, estimate: float, std_error: float, level: float) -> Effect:
        """The estimate with a normal interval at `level`."""
        z = float(stats.norm.ppf(0.5 + level / 2))
        return cls(estimate, std_error, estimate - z * std_error, estimate + z * std_error, level)

    def covers(self, value: float) -> bool:
        """Whether `value` lies in the interval."""
        return self.lower <= value <= self.upper

    def as_dict(self) -> dict[str, float]:
        """The fields, for a JSON report."""
        return asdict(self)


def naive_slope(y: np.ndarray, d: np.ndarray, level: float = 0.95) -> Effect:
    """The least-squares slope of y on d alone (heteroskedasticity-robust standard error): the
    correlation a report would quote without adjusting for anything."""
    dc, yc = d - d.mean(), y - y.mean()
    slope = float(dc @ yc / (dc @ dc))
    residual = yc - slope * dc
    return Effect.normal(slope, float(np.sqrt(dc**2 @ residual**2) / (dc @ dc)), level)


def _residuals(
    target: np.ndarray, x: np.ndarray, learner: RegressorMixin, folds: KFold
) -> np.ndarray:
    out = np.empty(len(target))
    for train, held_out in folds.split(x):
        model = clone(learner).fit(x[train], target[train])
        out[held_out] = target[held_out] - model.predict(x[held_out])
    return out


def partialling_out(
    y: np.ndarray,
    d: np.ndarray,
    x: np.ndarray,
    learner: RegressorMixin,
    *,
    folds: int = 5,
    repeats: int = 3,
    seed: int = 0,
    level: float = 0.95,
) -> Effect:
    """Theta of the partially linear model, cross-fitted on `folds` folds, the median of
    `repeats` splits (variance: the median of each split's variance plus its squared distance
    from the median estimate)."""
    estimates, variances = [], []
    for r in range(repeats):
        split = KFold(folds, shuffle=True, random_state=seed + r)
        ry = _residuals(y, x, learner, split)
        rd = _residuals(d, x, learner, split)
        theta = float(rd @ ry / (rd @ rd))
        score = (ry - theta * rd) * rd
        variances.append(float(np.mean(score**2) / np.mean(rd**2) ** 2 / len(y)))
        estimates.append(theta)
    middle = float(np.median(estimates))
    spread = np.median(np.array(variances) + (np.array(estimates) - middle) ** 2)
    return Effect.normal(middle, float(np.sqrt(spread)), level)


@dataclass(frozen=True)
class Placebo:
    """Estimates with the treatment replaced by random permutations of itself, which have no
    effect: their mean (with the interval of a mean of `draws`) should cover 0, and about `level`
    of the draws' own intervals should; otherwise the method finds effects where there are none
    (nuisances that overfit, intervals too narrow). It cannot see confounding: a shuffled
    treatment has none, which is what the comparison with the naive slope shows."""

    effect: Effect
    coverage: float  # share of the draws' intervals covering 0
    draws: int

    def as_dict(self) -> dict[str, float]:
        """The mean effect's fields with the coverage and the number of draws."""
        return {**self.effect.as_dict(), "coverage": self.coverage, "draws": self.draws}


def placebo(
    y: np.ndarray,
    d: np.ndarray,
    x: np.ndarray,
    learner: RegressorMixin,
    *,
    draws: int = 20,
    seed: int = 0,
    level: float = 0.95,
    folds: int = 5,
) -> Placebo:
    """`draws` placebo estimates (one cross-fitting split each: the permutation already varies)."""
    rng = np.random.default_rng(seed)
    found = [
        partialling_out(
            y, rng.permutation(d), x, learner, folds=folds, repeats=1, seed=seed + i, level=level
        )
        for i in range(draws)
    ]
    estimates = np.array([e.estimate for e in found])
    spread = float(estimates.std(ddof=1)) if draws > 1 else found[0].std_error
    mean = Effect.normal(float(estimates.mean()), spread / np.sqrt(draws), level)
    return Placebo(mean, float(np.mean([e.covers(0.0) for e in found])), draws)

"""Every target `make bench` judges, in one table: the single place a bound is written.

Sections name the target a row measures (`harness.check`) and take its comparison, bound, unit
and stated size from here; docs/benchmark.md carries this table as `python -m leadsift.bench
--targets` prints it (a test compares the two), so the docs cannot quote another number.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

TOLERANCE = 0.2  # a run within 20% of a target's stated size is judged against it
COMPARE = {">=": float.__ge__, "<=": float.__le__, "<": float.__lt__, "=": float.__eq__}


@dataclass(frozen=True)
class Target:
    """One target: a row's name, its comparison with a bound, and where it applies."""

    name: str
    section: str
    op: str  # a key of COMPARE
    bound: float
    means: str  # one line: what is measured, and against what
    unit: str = ""
    stated_at: tuple[int, ...] = ()  # the size(s) it is stated at; () = any size
    counted: str = ""  # what those sizes count: leads, lines, rows
    also: str = ""  # a second condition, checked by the section (e.g. "no error")

    @property
    def text(self) -> str:
        """The target as a row shows it, e.g. `<= 100, no error`."""
        return f"{self.op} {self.bound:g}" + (f", {self.also}" if self.also else "")

    def holds(self, value: float) -> bool:
        """Whether `value` is on the right side of the bound."""
        return COMPARE[self.op](float(value), float(self.bound))

    def sizes(self, sizes: Sequence[int]) -> str:
        """Sizes in this target's words: `10,000,000 vs 1,000,000 leads`."""
        return " vs ".join(f"{n:,}" for n in sizes) + f" {self.counted}"

    def applies_at(self, sizes: Sequence[int]) -> bool:
        """Whether a run at `sizes` is where the target is stated (each within TOLERANCE)."""
        if not self.stated_at:
            return True
        if len(sizes) != len(self.stated_at):
            return False
        pairs = zip(sizes, self.stated_at, strict=True)
        return all(abs(n - stated) <= TOLERANCE * stated for n, stated in pairs)


TARGETS = (
    Target("dvc repro / stages in one process", "pipeline", "<=", 1.25,
           "`dvc repro` from scratch over the same stage scripts run in one Python process "
           "(medians of three builds each): DVC's cost and each stage's start-up"),
    Target("no-op dvc repro / dvc status", "pipeline", "<=", 1.3,
           "a `dvc repro` with nothing to run over `dvc status` (medians of five)"),
    Target("test ROC-AUC / Bayes ROC-AUC", "quality", ">=", 0.98,
           "the built pipeline's test ROC-AUC (`leads_evaluate`) over that of the generator's "
           "true probabilities, the best any model can reach"),
    Target("default family's test ROC-AUC - the other boosting family's", "quality", ">=", -0.001,
           "`leads_tune`, `leads_train` and `leads_evaluate` run for `lightgbm` and "
           "`hist_gradient_boosting` on the same split with the same study"),
    Target("other boosting family's leads_train stage / default family's", "quality", ">=", 1,
           "the `leads_train` stage process's wall time (start-up, fit, save, MLflow) of the "
           "other family over the default's", unit="x"),
    Target("default family's leads_score rows/s / the other boosting family's", "quality", ">=",
           1, "the `leads_score` stage of each family's `leads_package` on the same batch, "
           "start-up subtracted, without reasons (`leads_score.reasons: false`): like with like",
           unit="x"),
    Target("TPE mean best - random mean best", "tuning", ">=", 0,
           "the `leads_tune` stage with `tune_setup.sampler` tpe and random, same trials, "
           "pruner and seeds (three): mean best validation score"),
    Target("leads_prepare+leads_featurize rows/s / pyarrow floor", "throughput", ">=", 1 / 3,
           "the two stage processes on the raw lead CSV, start-up subtracted, over pyarrow "
           "reading that CSV and writing it as parquet"),
    Target("leads_score stage rows/s", "scoring", ">=", 50_000,
           "batch size / (the stage's time on that batch - its time on a one-lead batch): "
           "read, clean, score with reasons, write; without the process's start-up",
           unit="rows/s", stated_at=(1_000_000,), counted="leads"),
    Target("leads_score stage rows/s without reasons", "scoring", ">=", 250_000,
           "the same with `leads_score.reasons: false`: read, clean, score and tier, write",
           unit="rows/s", stated_at=(1_000_000,), counted="leads"),
    Target("serving p99 latency", "serving", "<=", 20,
           "one client, 1,000 single-lead requests to `make serve`'s server (score, tier, "
           "reasons) after a warm-up", unit="ms"),
    Target("serving p99 latency, 8 concurrent clients", "serving", "<=", 100,
           "8 clients sharing 2,000 single-lead requests to the same server", unit="ms",
           also="no error"),
    Target("peak RSS, leads_generate to leads_train", "scale", "<=", 4096,
           "the largest process of `dvc repro leads_train` from scratch (the kernel's "
           "high-water mark)", unit="MB", stated_at=(10_000_000,), counted="leads"),
    Target("time per lead, leads_generate to leads_train, larger / smaller", "scale", "<=", 1.2,
           "wall time per lead of `dvc repro leads_train` from scratch at the larger size over "
           "that at the smaller", stated_at=(10_000_000, 1_000_000), counted="leads"),
    Target("segments ARI / Bayes ARI", "segmentation", ">=", 0.9,
           "the segments' adjusted Rand index with the true segments over that of the "
           "generator's own posterior"),
    Target("tuned k - true number of segments", "segmentation", "=", 0,
           "segments `customers_tune` chose minus the generator's"),
    Target("customers pipeline from scratch", "segmentation", "<=", 120,
           "`dvc repro` of every customers stage in a clean copy", unit="s"),
    Target("stages a no-op repro reruns", "segmentation", "=", 0,
           "stages that run again in a second `dvc repro` of the customers stages"),
    Target("dvc.lock outputs differing between two clean builds", "segmentation", "=", 0,
           "customers outputs whose hashes differ between two copies built alike (the trials' "
           "wall times excluded)"),
    Target("forecast MASE / the same-information expectation's, calendar given", "segmentation",
           "<=", 1.1, "the chosen model's backtest MASE on total revenue, knowing the planned "
           "campaign from `forecast_setup.campaigns`, over that of the generator's expected "
           "revenue, which knows it"),
    Target("forecast MASE / the same-information expectation's, no calendar", "segmentation",
           "<=", 1.1, "the same with `forecast_setup.campaigns: []`, over that of the Bayes "
           "forecast given the history only (the expected revenue learning of the campaign when "
           "it begins)"),
    Target("forecast MASE / the expected revenue's, shop without the campaign", "segmentation",
           "<=", 1.1, "the same for the shop whose new customers arrive all along"),
    Target("forecast MASE / the naive baseline's", "segmentation", "<", 1,
           "the chosen model's backtest MASE over the naive forecast's"),
    Target("forecast interval coverage, points from nominal", "segmentation", "<=", 10,
           "how far the chosen model's backtest interval coverage is from its level, in points"),
    Target("customers_forecast stage", "segmentation", "<=", 30,
           "the stage's wall time within the build from scratch", unit="s"),
    Target("commission effect: adjusted error / true effect", "segmentation", "<=", 0.2,
           "`customers_drivers`' double machine learning estimate of one commission point's "
           "effect, off the generator's true effect by this share", also="interval covers it"),
    Target("commission effect: naive error / true effect", "segmentation", ">=", 0.5,
           "the naive slope of sales on commission, off the true effect by this share (the "
           "generator's confounding: the adjusted estimate has something to correct)"),
    Target("placebo effect / its interval's half-width", "segmentation", "<=", 1,
           "the mean effect of `customers_drivers.placebo_draws` shuffled commissions in "
           "half-widths of its interval: at most 1 is an interval covering 0"),
    Target("closed cohort: forecast total / what followed, off by", "cohort", "<=", 0.1,
           "the customers pipeline set up by config alone on 15 months of the shop's "
           "first-month customers (customer, YYYYMMDD date, units, amount): its next three "
           "months' total against what they spent"),
    Target("peak RSS, customers pipeline", "segmentation_scale", "<=", 4096,
           "the largest process of `dvc repro` of the customers stages from scratch",
           unit="MB", stated_at=(5_000_000,), counted="lines"),
    Target("time per line, customers pipeline, larger / smaller", "segmentation_scale", "<=",
           1.2, "wall time per transaction line of that build at the larger shop over the "
           "smaller", stated_at=(5_000_000, 500_000), counted="lines"),
    Target("leads_data_profile stage, the lead export", "profile", "<=", 15,
           "the stage process (read, profile, figures, write) on the generated lead CSV",
           unit="s", stated_at=(240_000,), counted="leads"),
    Target("leads_data_profile stage, an 85-column table", "profile", "<=", 30,
           "the same stage on the leads widened to 85 columns, declared in config.yaml",
           unit="s", stated_at=(6_000,), counted="rows"),
    Target("clicks test ROC-AUC / the ceiling's", "clicks", ">=", 0.98,
           "the click model's ROC-AUC on the whole test day over p_true's (what can be known "
           "at each click: the best any online model can do)"),
    Target("clicks test log loss / the ceiling's", "clicks", "<=", 1.05,
           "the same day's log loss over p_true's: the probabilities, not only their order"),
    Target("clicks installs predicted / observed, test day, off by", "clicks", "<=", 0.05,
           "how far predicted installs over observed are from 1, on the whole test day"),
    Target("clicks pipeline from scratch", "clicks", "<=", 180,
           "`dvc repro` of every clicks stage in a clean copy at the default size",
           unit="s", stated_at=(4_000_000,), counted="clicks"),
    Target("clicks stages a no-op repro reruns", "clicks", "=", 0,
           "a second `dvc repro` of the clicks stages"),
    Target("clicks dvc.lock outputs differing between two clean builds", "clicks", "=", 0,
           "output hashes of two builds from scratch (the trials' wall times left out)"),
    Target("clicks_features stage / its bare window queries", "clicks_scale", "<=", 1.3,
           "the stage process (start-up subtracted) over the same SQL run alone by the engine "
           "into a table (the engine's own floor)", unit="x", stated_at=(20_000_000,),
           counted="clicks"),
    Target("peak RSS, clicks pipeline", "clicks_scale", "<=", 6144,
           "the largest process of `dvc repro clicks_score clicks_evaluate` from scratch "
           "(generate, prepare, features, tune, train, evaluate, score)", unit="MB",
           stated_at=(185_000_000,), counted="clicks"),
    Target("peak RSS, clicks pipeline, smaller log", "clicks_scale", "<=", 6144,
           "the same at the smaller log", unit="MB", stated_at=(20_000_000,), counted="clicks"),
    Target("time per click, clicks pipeline, larger / smaller", "clicks_scale", "<=", 1.2,
           "wall time per click of that build at the larger log over the smaller",
           stated_at=(185_000_000, 20_000_000), counted="clicks"),
    Target("clicks pipeline end to end", "clicks_scale", "<=", 5400,
           "that build's wall time at TalkingData's size", unit="s",
           stated_at=(185_000_000,), counted="clicks"),
    Target("online click features differing from the batch stage's, test day", "clicks_online",
           "=", 0, "clicks of the whole test day, replayed in time order through the online "
           "scorer, with any feature unequal to clicks_features' (bit for bit; missing = missing)"),
    Target("online click probabilities differing from the batch score, test day",
           "clicks_online", "=", 0, "the same clicks' probabilities against the registered "
           "model's on the batch features (bit for bit)"),
    Target("online click scoring on one core, micro-batches of 1,000", "clicks_online", ">=",
           50_000, "that replay's clicks per second (remember, features, probability) in a "
           "process pinned to one core", unit="clicks/s"),
    Target("clicks serving p99 latency", "clicks_online", "<=", 20,
           "one raw click per request to `make serve PIPELINE=clicks` over loopback (features, "
           "probability, tier and reasons), one client", unit="ms", also="no error"),
    Target("clicks serving p99 latency, 8 concurrent clients", "clicks_online", "<=", 100,
           "the same from eight clients at once", unit="ms", also="no error"),
    Target("click state memory, distinct users", "clicks_online", "<=", 2048,
           "what the online state holds (its arrays) after one click of each user, each on its "
           "own ip, over a day", unit="MB", stated_at=(10_000_000,), counted="users"),
    Target("clicks feature files differing between DuckDB and Spark", "clicks_spark", "=", 0,
           "clicks_features built on DuckDB, then rerun with `clicks_engine.engine: spark` "
           "(local[2]) on the same log: 1 if the two files' bytes differ", counted="clicks"),
)  # fmt: skip
BY_NAME = {target.name: target for target in TARGETS}


def target(name: str) -> Target:
    """The target named `name`; a row no target names is a mistake in the bench."""
    try:
        return BY_NAME[name]
    except KeyError:
        raise KeyError(f"no target is named {name!r} in leadsift.bench.targets") from None


def markdown() -> str:
    """The targets as the Markdown table docs/benchmark.md carries."""
    lines = [
        "| measure | section | target | unit | stated at | what it means |",
        "|---|---|---|---|---|---|",
    ]
    for t in TARGETS:
        stated = t.sizes(t.stated_at) if t.stated_at else "any size"
        lines.append(f"| {t.name} | {t.section} | {t.text} | {t.unit} | {stated} | {t.means} |")
    return "\n".join(lines)

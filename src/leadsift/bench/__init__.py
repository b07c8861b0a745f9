"""`make bench`: quality against the known ceilings, speed and scale, measured on the real stages.

One module per section, each a `run(bench) -> rows` that runs the stage scripts of dvc.yaml in
copies of the project; `harness` holds what they share and `targets` the one table of targets.
A new section is a module and one entry in `SECTIONS` (in the order a full run takes them:
`pipeline` first, since its last build is the copy the other lead sections read).
"""

from __future__ import annotations

from collections.abc import Callable

from leadsift.bench import (
    clicks,
    clicks_online,
    clicks_scale,
    clicks_spark,
    cohort,
    pipeline,
    profile,
    quality,
    scale,
    scoring,
    segmentation,
    segmentation_scale,
    serving,
    throughput,
    tuning,
)
from leadsift.bench.harness import Bench, Result, copy_project
from leadsift.bench.serving import post_concurrently

SECTIONS: dict[str, Callable[[Bench], list[Result]]] = {
    "pipeline": pipeline.run,
    "quality": quality.run,
    "tuning": tuning.run,
    "throughput": throughput.run,
    "scoring": scoring.run,
    "serving": serving.run,
    "scale": scale.run,
    "segmentation": segmentation.run,
    "cohort": cohort.run,
    "segmentation_scale": segmentation_scale.run,
    "profile": profile.run,
    "clicks": clicks.run,
    "clicks_online": clicks_online.run,
    "clicks_scale": clicks_scale.run,
    "clicks_spark": clicks_spark.run,
}

__all__ = ["SECTIONS", "copy_project", "post_concurrently"]

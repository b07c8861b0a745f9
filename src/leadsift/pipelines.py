"""The project's pipelines as its command-line tools see them (`make serve`, `make repro`'s
checks and registry sync): the model each one registers and serves, the types that model may hold,
and the inputs it reads.

A pipeline `p` registers its model in stage `p_register`, under config.yaml `mlflow.models.p`; its
stages live in stages/p/, its code in leadsift/p/ and its params' rules in leadsift/p/param_rules.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Pipeline:
    name: str
    model_dir: Path  # what its register stage registers, and `make serve --model` may name
    trusted_types: str  # "module:NAME" of the types its saved models may hold
    inputs: tuple[str, ...]  # the config keys naming the files and folders it reads

    @property
    def param_rules(self) -> str:
        return f"leadsift.{self.name}.param_rules"

    @property
    def register_stage(self) -> str:
        return f"{self.name}_register"

    def trusted(self) -> list[str]:
        """The list the trusted loader loads this pipeline's models with (imported on demand)."""
        module, _, name = self.trusted_types.partition(":")
        return list(getattr(importlib.import_module(module), name))


PIPELINES = {
    pipeline.name: pipeline
    for pipeline in (
        Pipeline(
            "leads",
            Path("models/sales"),
            "leadsift.leads.models:TRUSTED_TYPES",
            ("leads.raw_path", "leads_score.input", "leads_monitor.labels"),
        ),
        Pipeline(
            "customers",
            Path("models/segments"),
            "leadsift.customers.segmentation:TRUSTED_TYPES",
            ("transactions.raw_path", "transactions.incoming"),
        ),
        Pipeline(
            "clicks",
            Path("models/clicks"),
            "leadsift.clicks.model:TRUSTED_TYPES",
            ("clicks.raw_path", "clicks.incoming"),
        ),
    )
}

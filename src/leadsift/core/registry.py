"""The promotion gate's decisions applied to the MLflow registry: which version holds `champion`,
which version holds a model already (by its uuid), registering a version with its decision as tags
and moving the alias it earned. The rule itself is `core.gate`.

A model the registry already holds (same bytes, hence same uuid) is not registered again: the
champion itself is unchanged, and another version is judged again against the current champion and
given the alias it earns (as when a team goes back to data the current champion cannot read). The
decision and its reasons go to reports/promotion.json and to the model version's tags. `python -m
leadsift.registry_sync` (run by `make repro`) reruns the gate when promotion is on and the
store has never seen the workspace's model: a fresh clone, or a newly configured server.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import mlflow
from mlflow import MlflowClient
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException

from leadsift.core import model_store, tracking
from leadsift.core.gate import (
    CHAMPION,
    Candidate,
    ChampionCannotScoreError,
    Comparison,
    Decision,
    Mode,
    decide,
    promotion_mode,
)
from leadsift.core.io import write_json
from leadsift.core.report import decision_line

log = logging.getLogger("leadsift.registry")


def current_champion(model_name: str) -> ModelVersion | None:
    """The version that holds the `champion` alias, if the registered model and alias exist."""
    try:
        return MlflowClient().get_model_version_by_alias(model_name, CHAMPION)
    except MlflowException:
        return None


def registered_version(model_name: str, model_uuid: str) -> ModelVersion | None:
    """The version of `model_name` that holds this very model (by its uuid), if any."""
    try:
        found = MlflowClient().search_model_versions(
            f"name = '{model_name}' and tags.`{tracking.MODEL_UUID_TAG}` = '{model_uuid}'"
        )
    except MlflowException:
        return None
    return min(found, key=lambda v: int(v.version), default=None)


def record(model_name: str, model_uri: str, decision: Decision, tags: dict[str, str]) -> str:
    """Register the model version, tag it with the decision, and move the alias it earned."""
    version = str(mlflow.register_model(model_uri, model_name).version)
    tag_and_alias(model_name, version, decision, tags)
    return version


def tag_and_alias(model_name: str, version: str, decision: Decision, tags: dict[str, str]) -> None:
    """Tag a registered version with the decision (its latest) and move the alias it earned."""
    client = MlflowClient()
    for key, value in {
        **tags,
        "decision": decision.outcome,
        "reasons": "; ".join(decision.reasons),
    }.items():
        client.set_model_version_tag(model_name, version, key, value)
    if decision.alias:
        client.set_registered_model_alias(model_name, decision.alias, version)


def gate_and_register(
    candidate: Candidate,
    *,
    compare: Callable[[str], Comparison],
    min_improvement: float,
    gate: Mapping[str, Any],
    experiment: str,
    model_name: str,
    mode: Mode,
) -> dict[str, Any]:
    """Decide on `candidate`; where promotion is on, register it and move the alias it earned.

    `compare(champion_uri)` measures the candidate against the champion on the same rows, or
    raises `ChampionCannotScoreError`. `gate` is the pipeline's gate settings, recorded in the
    report (reports/promotion.json).
    """
    uuid = model_store.model_uuid(candidate.model_dir)
    tracking.point_at_store()
    champion = current_champion(model_name)
    known = registered_version(model_name, uuid)
    comparison = unscorable = None
    if known is not None and champion is not None and known.version == champion.version:
        decision = Decision("unchanged", None, [f"identical to champion version {known.version}"])
    else:
        if champion is not None and candidate.clears_floors:
            try:
                comparison = compare(f"models:/{model_name}@{CHAMPION}")
            except ChampionCannotScoreError as why:
                unscorable = str(why)
        decision = decide(
            candidate,
            min_improvement=min_improvement,
            comparison=comparison,
            champion_version=str(champion.version) if champion else None,
            unscorable=unscorable,
        )
        if known is not None:
            earlier = known.tags.get("decision", "registered")
            held = f"already registered as version {known.version} ({earlier}), judged again"
            decision = replace(decision, reasons=[held, *decision.reasons])
    applied = mode.promote and decision.outcome != "unchanged"
    version = str(known.version) if known is not None else None
    if applied:
        tags = {tracking.MODEL_UUID_TAG: uuid, candidate.metric: f"{candidate.value:.6f}"}
        if version is None:
            model_uri = tracking.logged_model_uri(experiment, candidate.model_dir)
            version = record(model_name, model_uri, decision, tags)
        else:
            tag_and_alias(model_name, version, decision, tags)
    return {
        "model_name": model_name,
        "decision": decision.outcome,
        "would_promote": decision.alias == CHAMPION,
        "promotion": {"on": mode.promote, "why": mode.why},
        "applied": applied,
        "alias": decision.alias if applied else None,
        "version": version,
        "champion_before": str(champion.version) if champion else None,
        "reasons": decision.reasons,
        candidate.metric: candidate.value,
        "comparison": comparison.__dict__ if comparison else None,
        "gate": dict(gate),
    }


def register_by_params(
    candidate: Candidate,
    compare: Callable[[str], Comparison],
    params: Mapping[str, Any],
    pipeline: str,
    report_path: str | Path,
) -> dict[str, Any]:
    """A pipeline's register stage: `gate_and_register` with its `<pipeline>_register` settings,
    its model name in `mlflow.models`, promotion on the main branch only; the report written to
    `report_path` and its decision logged."""
    gate = params[f"{pipeline}_register"]
    report = gate_and_register(
        candidate,
        compare=compare,
        min_improvement=gate["min_improvement"],
        gate=gate,
        experiment=params["mlflow"]["experiment"],
        model_name=params["mlflow"]["models"][pipeline],
        mode=promotion_mode(params["promotion"]["main_branch"]),
    )
    write_json(report_path, report)
    log.info(decision_line(report))
    return report


def needs_gate(model_dir: Path, model_name: str, main_branch: str) -> bool:
    """True when promotion is on and the store holds no version of the model in `model_dir`."""
    if not promotion_mode(main_branch).promote or not model_dir.is_dir():
        return False
    tracking.point_at_store()
    return registered_version(model_name, model_store.model_uuid(model_dir)) is None

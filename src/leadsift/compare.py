"""`make compare`: every experiment on one line, best first, from `dvc exp show --json`.

It prints what decides between variants of one pipeline (the family and budget, the headline
metrics) sorted by one of them, which `dvc exp show` does not do by default.

    python -m leadsift.compare [--pipeline leads|customers|clicks] [--sort-by KEY] [--all-commits]
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

METRICS_FILE = "reports/metrics.json"


@dataclass(frozen=True)
class View:
    """What one pipeline's comparison shows: headline metrics, the params experiments vary, and
    the keys to sort by (the first one any row has: a truth-based one first, where there is one)."""

    metrics: Mapping[str, tuple[str, str]]  # header: (key in reports/metrics.json, format)
    params: Mapping[str, str]  # header: dotted key in params.yaml
    sort_by: tuple[str, ...]


VIEWS = {
    "leads": View(
        metrics={
            "test roc_auc": ("roc_auc", ".4f"),
            "of bayes": ("bayes_share", ".1%"),
            "test pr_auc": ("pr_auc", ".4f"),
            "junk filtered": ("junk_filtered", ".1%"),
            "drift alerts": ("drift_alerts", "d"),
        },
        params={"family": "model.family", "trials": "tune.n_trials"},
        sort_by=("roc_auc",),
    ),
    "customers": View(
        metrics={
            "segments": ("segments", "d"),
            "silhouette": ("silhouette", ".4f"),
            "ari of best": ("ari_share", ".1%"),
            "top 20% revenue": ("top20_share", ".1%"),
        },
        params={"family": "segment.family", "trials": "segment.n_trials"},
        sort_by=("ari_share", "silhouette"),
    ),
    "clicks": View(
        metrics={
            "test roc_auc": ("clicks_roc_auc", ".4f"),
            "of ceiling": ("clicks_ceiling_share", ".1%"),
            "log loss x": ("clicks_log_loss_ratio", ".3f"),
            "installs x": ("clicks_installs_ratio", ".3f"),
            "flagged": ("clicks_flagged", ".1%"),
        },
        params={
            "negatives": "clicks_sampling.negative_rate",
            "bags": "clicks_sampling.n_bags",
            "trials": "clicks_tune.n_trials",
        },
        sort_by=("clicks_roc_auc",),
    ),
}


def _dig(data: Mapping[str, Any] | None, dotted: str) -> Any:
    for key in dotted.split("."):
        if not isinstance(data, Mapping) or key not in data:
            return None
        data = data[key]
    return data


def _file_data(rev_data: Mapping[str, Any], kind: str, path: str) -> Mapping[str, Any] | None:
    return _dig((rev_data.get(kind) or {}).get(path), "data")


def _revisions(exp_show: list[dict]) -> Iterator[tuple[str, str, dict, str | None]]:
    """(name, kind, data, error) for each baseline commit and each of its experiments."""
    for baseline in exp_show:
        if baseline.get("rev") == "workspace":
            continue
        name = baseline.get("name") or str(baseline.get("rev", ""))[:7]
        yield name, "baseline", baseline.get("data") or {}, baseline.get("error")
        for experiment in baseline.get("experiments") or []:
            for rev in experiment.get("revs") or []:
                status = (
                    (experiment.get("executor") or {}).get("state")
                    if experiment.get("executor")
                    else None
                )
                kind = status or "experiment"
                yield (
                    rev.get("name") or experiment.get("name") or rev["rev"][:7],
                    kind,
                    rev.get("data") or {},
                    rev.get("error"),
                )


def experiment_rows(
    exp_show: list[dict], view: View = VIEWS["leads"], sort_by: str | None = None
) -> list[dict[str, Any]]:
    """One row per baseline and experiment, best first by `sort_by` (a key of
    reports/metrics.json; by default the first of the view's sort keys that any row has)."""
    revisions = [
        (name, kind, data, error, _file_data(data, "metrics", METRICS_FILE) or {})
        for name, kind, data, error in _revisions(exp_show)
    ]
    if sort_by is None:
        present = [key for key in view.sort_by if any(key in r[-1] for r in revisions)]
        sort_by = (present or view.sort_by)[0]
    rows = []
    for name, kind, data, error, metrics in revisions:
        params = _file_data(data, "params", "params.yaml") or {}
        row = {"name": name, "kind": "failed" if error else kind}
        row |= {header: _dig(params, key) for header, key in view.params.items()}
        row |= {header: metrics.get(key) for header, (key, _) in view.metrics.items()}
        row["_sort"] = metrics.get(sort_by)
        rows.append(row)
    rows.sort(key=lambda r: -r["_sort"] if isinstance(r["_sort"], int | float) else math.inf)
    return rows


def format_table(rows: list[dict[str, Any]], view: View = VIEWS["leads"]) -> str:
    headers = ["name", "kind", *view.params, *view.metrics]
    formats = {h: f for h, (_, f) in view.metrics.items()}

    def cell(row: dict, header: str) -> str:
        value = row.get(header)
        if value is None:
            return "-"
        return format(value, formats[header]) if header in formats else str(value)

    cells = [[cell(row, h) for h in headers] for row in rows]
    widths = [
        max(len(h), *(len(c[i]) for c in cells)) if cells else len(h) for i, h in enumerate(headers)
    ]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pipeline", choices=sorted(VIEWS), default="leads")
    parser.add_argument(
        "--sort-by",
        help="key of reports/metrics.json (default: roc_auc for leads; for customers ari_share, "
        "or silhouette where there is no known truth; clicks_roc_auc for clicks)",
    )
    parser.add_argument("--all-commits", action="store_true", help="experiments of every commit")
    args = parser.parse_args()
    if shutil.which("dvc") is None:
        sys.exit(
            "error: dvc is not on PATH; run `make compare`, or `source .venv/bin/activate` first"
        )
    command = ["dvc", "exp", "show", "--json", *(["--all-commits"] if args.all_commits else [])]
    shown = subprocess.run(command, capture_output=True, text=True, check=False)
    if shown.returncode != 0:
        sys.exit(f"error: {' '.join(command)} failed:\n{shown.stderr.strip()}")
    view = VIEWS[args.pipeline]
    rows = experiment_rows(json.loads(shown.stdout), view, args.sort_by)
    family = next(iter(view.params.values()))
    print(
        format_table(rows, view)
        if rows
        else f"no experiments yet: try `dvc exp run -S {family}=...`"
    )


if __name__ == "__main__":
    main()

"""Stage customers_register: the promotion gate decides on the new segmentation and, where
promotion is on, registers it and moves the alias it earned (leadsift.core.gate).

Its metric is the mean silhouette of the segments, in a neutral space (log features,
standardised), on a seeded sample of the current customers; a champion is compared on the same
customers. Segments that bootstrap refits do not reproduce (mean adjusted Rand index below
`customers_register.min_stability`; customers_train measured it) are rejected whatever their
silhouette. The decision goes to reports/customers/promotion.json.
"""

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd

from leadsift.core import registry
from leadsift.core.cli import run_stage
from leadsift.core.config import load_params
from leadsift.core.gate import Candidate, Floor
from leadsift.core.model_store import load_model
from leadsift.customers.param_rules import RULES
from leadsift.customers.segmentation import (
    TRUSTED_TYPES,
    champion_comparison,
    neutral_space,
    silhouettes,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("model_dir")
    parser.add_argument("customers", help="customer features (parquet)")
    parser.add_argument("train_report", help="reports/customers/train.json: the stability")
    parser.add_argument("report", help="promotion decision JSON")
    args = parser.parse_args()
    params = load_params(RULES)
    setup, gate = params["segment_setup"], params["customers_register"]
    customers = pd.read_parquet(args.customers).set_index("customer_id")
    rows = np.random.default_rng(setup["seed"]).permutation(len(customers))
    sample = customers.iloc[np.sort(rows[: setup["sample_rows"]])]
    space = neutral_space(sample, setup["features"])
    model = load_model(args.model_dir, TRUSTED_TYPES)
    candidate = Candidate(
        Path(args.model_dir),
        metric="silhouette",
        label="silhouette",
        value=float(np.nanmean(silhouettes(space, model.predict(sample)))),
        floor=gate["min_silhouette"],
        also=stability_floor(
            json.loads(Path(args.train_report).read_text())["stability"], gate["min_stability"]
        ),
    )
    registry.register_by_params(
        candidate, champion_comparison(model, sample, space, gate), params, "customers", args.report
    )


def stability_floor(stability: dict | None, floor: float) -> tuple[Floor, ...]:
    """The stability floor, where customers_train measured it (`stability_refits` above 0)."""
    if stability is None:
        return ()
    label = f"segment stability (mean adjusted Rand index of {stability['refits']} refits)"
    return (Floor(label, stability["mean_ari"], floor),)


if __name__ == "__main__":
    run_stage(main)

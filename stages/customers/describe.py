"""Stage customers_profile: what the segments are and how much revenue rests on whom.

Per segment: customers and revenue and their shares, every feature's median and a name from the
published RFM rule table (leadsift.customers.segment_summary); the revenue concentration (top 1%,
5%, 20% of customers, Lorenz curve, Gini); figures; every customer's segment for marketing; and,
where the embedded generator's truth covers the customers, the adjusted Rand index against the truth
next to the Bayes-optimal ceiling.
"""

import argparse
import logging
from pathlib import Path

import pandas as pd

from leadsift.core import tracking
from leadsift.core.cli import run_stage
from leadsift.core.config import load_params
from leadsift.core.io import write_csv, write_json
from leadsift.core.model_store import load_model
from leadsift.core.plots import save_figure
from leadsift.customers import plots
from leadsift.customers.param_rules import RULES
from leadsift.customers.segment_summary import describe, lorenz_curve
from leadsift.customers.segmentation import TRUSTED_TYPES

log = logging.getLogger("leadsift.customers.describe")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("model_dir")
    parser.add_argument("customers", help="customer features (parquet)")
    parser.add_argument("truth", help="the generator's truth (parquet), used when ids match")
    parser.add_argument("segments", help="every customer's segment (CSV, for marketing)")
    parser.add_argument("reports", help="reports directory of the customers pipeline")
    args = parser.parse_args()
    params = load_params(RULES)
    model = load_model(args.model_dir, TRUSTED_TYPES)
    customers = pd.read_parquet(args.customers).set_index("customer_id")
    segments = model.predict(customers)
    report, table, names = describe(customers, segments, pd.read_parquet(args.truth))
    reports = Path(args.reports)
    write_json(reports / "segments.json", report)
    assigned = pd.DataFrame({"segment": segments, "name": [names[s] for s in segments]})
    write_csv(args.segments, assigned.set_index(customers.index).reset_index())
    curve = lorenz_curve(customers["monetary"])
    write_csv(reports / "plots" / "lorenz.csv", curve, float_format="%.6g")
    figures = {
        "profiles": plots.profile_heatmap(table, customers, names),
        "projection": plots.projection_figure(
            model.transform(customers), segments, names, params["segment_setup"]["seed"]
        ),
        "revenue": plots.revenue_share_figure(table, names),
        "lorenz": plots.lorenz_figure(curve, report["concentration"]["gini"]),
    }
    for name, figure in figures.items():
        save_figure(figure, reports / "figures" / f"{name}.png")
    tracking.log_to_model_run(
        params["mlflow"]["experiment"],
        Path(args.model_dir),
        {"concentration": report["concentration"], "truth": report["truth"] or {}},
        [("figures", reports / "figures" / f"{name}.png") for name in figures],
    )
    for segment, name in names.items():
        row = table.loc[segment]
        log.info(
            "%d. %s: %.0f%% of customers, %.0f%% of revenue",
            segment,
            name,
            100 * row["customer_share"],
            100 * row["revenue_share"],
        )
    if report["truth"]:
        log.info(
            "ARI %.3f against the truth; the Bayes ceiling %.3f", report["truth"]["ari"],
            report["truth"]["ari_ceiling"],
        )  # fmt: skip


if __name__ == "__main__":
    run_stage(main)

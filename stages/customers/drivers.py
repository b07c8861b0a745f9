"""Stage customers_drivers: what makes a product sell.

A table of the products as of `customers_drivers.as_of` (price, category, niche, age, producer
size, commission, affiliate, social and smartphone shares of past sales) and the units each sold in
the `customers_drivers.outcome_months` after it; a LightGBM model of log(1 + units) with exact
per-feature contributions and partial dependence on commission and price (descriptive); and the
commission's causal effect by double machine learning, with the naive slope and a placebo beside it
(leadsift.customers.drivers). On the embedded marketplace the generator's true effect is reported
next to them. An export without products or long enough a history gets a note, not a model.
"""

import argparse
import logging
from pathlib import Path

import pandas as pd

from leadsift.core import tracking
from leadsift.core.cli import run_stage
from leadsift.core.config import load_params
from leadsift.core.io import write_csv, write_json
from leadsift.core.plots import importance_figure, save_figure
from leadsift.customers import drivers, market_plots
from leadsift.customers.drivers_report import summary_lines
from leadsift.customers.param_rules import RULES

log = logging.getLogger("leadsift.customers.drivers")


def write_findings(found: drivers.Drivers, truth: float | None, out: Path) -> None:
    write_csv(out / "contributions.csv", found.contributions, float_format="%.6g")
    write_csv(out / "dependence.csv", found.dependence, float_format="%.6g")
    used = found.contributions.rename(columns={"mean_abs_contribution": "importance"})
    figure = importance_figure(used.assign(std=0.0), top=len(used),
                               title="features the sales model uses (descriptive)",
                               xlabel="mean |contribution| to log(1 + units)")  # fmt: skip
    save_figure(figure, out / "contributions.png")
    save_figure(market_plots.dependence_figure(found.dependence), out / "dependence.png")
    if found.effect:
        effects = {"adjusted (DML)": found.effect, "naive slope": found.naive,
                   "placebo (shuffled)": found.placebo.effect}  # fmt: skip
        save_figure(market_plots.effect_figure(effects, truth), out / "effect.png")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("transactions", help="clean transaction lines (parquet)")
    parser.add_argument("truth", help="the generator's market truth (parquet), used if it applies")
    parser.add_argument("report", help="the headline JSON (drivers.json)")
    parser.add_argument("out_dir", help="directory for the product table, tables and figures")
    args = parser.parse_args()
    params = load_params(RULES)
    setup = params["customers_drivers"]
    lines = pd.read_parquet(args.transactions)
    times = lines["timestamp"]
    as_of, end = drivers.table_dates(times, setup["as_of"], setup["outcome_months"])
    table = drivers.product_table(lines, as_of, end)
    out = Path(args.out_dir)
    write_csv(out / "products.csv", table, float_format="%.6g")
    found = truth = None
    if (note := drivers.unfit_reason(table, times, as_of, end)) is None:
        features = drivers.usable_features(table)
        log.info("%d products as of %s; units sold until %s; features: %s", len(table),
                 as_of.date(), end.date(), ", ".join(features))  # fmt: skip
        found = drivers.describe_drivers(
            table,
            features,
            seed=setup["seed"],
            level=setup["level"],
            folds=setup["folds"],
            placebo_draws=setup["placebo_draws"],
        )
        raw_path = Path(params["transactions"]["raw_path"])
        truth = drivers.truth_for(Path(args.truth), raw_path, table, as_of, end)
        write_findings(found, truth, out)
    summary = drivers.summary(found, truth, as_of=as_of, end=end, products=len(table), note=note)
    write_json(args.report, summary)
    tracking.log_stage(
        params["mlflow"]["experiment"],
        "customers_drivers",
        tags=tracking.run_tags("customers_drivers", "dml", params["transactions"]["raw_path"]),
        params={"customers_drivers": setup},
        metrics=summary["commission"] or {},
        artifacts=[("drivers", path) for path in sorted(out.glob("*.csv"))],
    )
    for line in summary_lines(summary):
        log.info("%s", line)


if __name__ == "__main__":
    run_stage(main)

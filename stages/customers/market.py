"""Stage customers_market: does the marketplace depend on its biggest producers, and what is
moving in it.

Shares of units and revenue of the top 1%, 5%, 20% of producers, products and affiliates, Gini,
HHI, Lorenz curves, the case's big producers (above the 95th percentile of units) and what the
biggest 1, 5 and 10 producers' leaving would cost; with z-scored values
(`transactions.value_standardised`), revenue as a range over stated de-standardisations. Then
every niche's, category's, device's and origin's monthly share of units with a trend test, the
biggest significant mover of each named (leadsift.customers.market).
"""

import argparse
import logging
from pathlib import Path

import pandas as pd

from leadsift.core.cli import run_stage
from leadsift.core.config import load_params
from leadsift.core.io import write_csv, write_json
from leadsift.core.plots import save_figure
from leadsift.customers import market
from leadsift.customers.market_plots import lorenz_figure, trends_figure
from leadsift.customers.param_rules import RULES
from leadsift.customers.segment_summary import lorenz_curve

log = logging.getLogger("leadsift.customers.market")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("transactions", help="clean transaction lines (parquet)")
    parser.add_argument("report", help="the headline JSON (market.json)")
    parser.add_argument("out_dir", help="directory for the tables and figures")
    args = parser.parse_args()
    params = load_params(RULES)
    setup, roles = params["customers_market"], params["transactions"]
    lines = pd.read_parquet(args.transactions)
    cvs = market.valid_cvs(lines, setup["value_cvs"]) if roles["value_standardised"] else None
    if cvs is not None:
        log.info("values are z-scores: revenue given for cv %s", cvs or "none (none valid)")
    per_unit = bool(roles["unit_price"])
    dependence = market.dependence(lines, cvs, per_unit=per_unit)
    monthly, trends = market.monthly_tables(lines, setup["trend_alpha"])
    out = Path(args.out_dir)
    write_csv(out / "monthly.csv", monthly.astype({"month": "str"}), float_format="%.2f")
    write_csv(out / "trends.csv", trends, float_format="%.6g")
    if dependence:
        curves = {s: lorenz_curve(u) for s, u in market.seller_units(lines, dependence).items()}
        ginis = {s: dependence[s]["units"]["gini"] for s in curves}
        save_figure(lorenz_figure(curves, ginis), out / "lorenz.png")
    if len(monthly):
        save_figure(trends_figure(monthly, trends), out / "trends.png")
    movers = market.movers(trends) if len(trends) else []
    write_json(args.report, {"value_cvs": cvs, "dependence": dependence, "movers": movers})
    if producer := dependence.get("producer"):
        log.info("top 5%% of %d producers: %.0f%% of units; Gini %.2f", producer["units"]["count"],
                 100 * producer["units"]["top_5pct"], producer["units"]["gini"])  # fmt: skip
    else:
        log.info("no `transactions.producer` role: dependence on producers not measured")
    for m in movers:
        log.info("%s %s: %s, %.0f%% -> %.0f%% of units", m["dimension"], m["value"],
                 m["direction"], 100 * m["first_share"], 100 * m["last_share"])  # fmt: skip


if __name__ == "__main__":
    run_stage(main)

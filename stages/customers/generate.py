"""Stage customers_generate: the embedded shop's transaction export, its truth, and later months.

Writes the export of the history (CSV, UCI Online Retail's columns), the truth of every customer
who bought in it (true segment and the Bayes-optimal segment, which no training stage reads), each
month's expected revenue under the generative model, each product's demand model (the marketplace's
causal truth), and one export per month after as_of.
"""

import argparse
import logging
from pathlib import Path

from leadsift.core.cli import run_stage
from leadsift.core.config import load_params
from leadsift.core.io import write_csv, write_parquet
from leadsift.customers.param_rules import RULES
from leadsift.customers.synth import Dirt, generate_transactions
from leadsift.customers.synth_market import MarketSetup
from leadsift.customers.synth_world import Segment

log = logging.getLogger("leadsift.customers.generate")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("raw_dir", help="directory for transactions.csv and the truth files")
    parser.add_argument("incoming_dir", help="directory for the monthly exports after as_of")
    args = parser.parse_args()
    params = load_params(RULES)
    sample, settings = params["generate_transactions"], params["generate_transactions_setup"]
    segments = {name: Segment.from_params(name, e) for name, e in settings["segments"].items()}
    log.info("generating %s customers' transactions", f"{sample['n_customers']:,}")
    shop = generate_transactions(
        sample["n_customers"],
        start=settings["start"],
        months=settings["months"],
        future_months=settings["future_months"],
        recent_months=settings["recent_months"],
        mix_concentration=settings["mix_concentration"],
        segments=segments,
        world_seed=settings["world_seed"],
        sample_seed=sample["sample_seed"],
        dirt=Dirt(**settings["dirt"]),
        market=MarketSetup(**settings["market"]),
    )
    raw = Path(args.raw_dir)
    write_csv(raw / "transactions.csv", shop.export)
    write_parquet(raw / "truth.parquet", shop.truth)
    write_parquet(raw / "expected_revenue.parquet", shop.expected)
    write_parquet(raw / "market_truth.parquet", shop.market)
    Path(args.incoming_dir).mkdir(parents=True, exist_ok=True)
    for month, lines in shop.batches:
        write_csv(Path(args.incoming_dir) / f"{month}.csv", lines)
    log.info(
        "wrote %s lines of %s customers and %d later month(s)",
        f"{len(shop.export):,}",
        f"{len(shop.truth):,}",
        len(shop.batches),
    )


if __name__ == "__main__":
    run_stage(main)

"""Stage leads_generate_incoming: later monthly batches of embedded leads, without their labels.

The batches follow the training period, from the same world, with the drift of params
`incoming.drift` reached by the last batch. Their labels go to a separate directory, as they
arrive later in real life.
"""

import argparse
import logging
from pathlib import Path

import pandas as pd

from leadsift.core.cli import run_stage
from leadsift.core.config import load_params
from leadsift.core.io import write_csv, write_parquet
from leadsift.leads.param_rules import RULES
from leadsift.leads.synth import Dirt, Drift, monthly_batches

log = logging.getLogger("leadsift.leads.generate_incoming")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("batches", help="directory for the batches (CSV, one per month)")
    parser.add_argument("labels", help="directory for their labels (parquet, one per month)")
    args = parser.parse_args()
    params = load_params(RULES)
    world, incoming = params["generate_setup"], params["incoming"]
    after = pd.Timestamp(world["start"]) + pd.Timedelta(days=world["days"])
    batches = monthly_batches(
        incoming["n_batches"],
        incoming["leads_per_batch"],
        after=str(after),
        sample_seed=params["incoming_setup"]["sample_seed"],
        drift=Drift(**incoming["drift"]),
        id_offset=params["generate"]["n_leads"],
        genuine_rate=world["genuine_rate"],
        world_seed=world["world_seed"],
        dirt=Dirt(**world["dirt"]),
    )
    for batch in batches:
        write_csv(Path(args.batches) / f"{batch.name}.csv", batch.export)
        write_parquet(Path(args.labels) / f"{batch.name}.parquet", batch.truth)
        log.info("wrote batch %s: %s leads", batch.name, f"{len(batch.export):,}")


if __name__ == "__main__":
    run_stage(main)

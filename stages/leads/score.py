"""Stage leads_score: score each batch of incoming leads with the sales model named by
`score.model`.

`leads_score.input` is a directory with one file per batch (CSV or parquet, named by period, e.g.
2026-04.csv). For each batch it writes every scored lead (leads/<batch>.parquet), the sales file
(sales/<batch>.csv: lead id, 0-100 score, tier, junk flag, the inputs that raised and lowered the
score, model version: the answer `make serve` gives) and the quarantined rows with reasons
(quarantine/<batch>.parquet); the row accounting and tier shares of every batch are in
reports/scoring.json.
"""

import argparse
import logging
from pathlib import Path

from leadsift.core.cli import run_stage
from leadsift.core.config import load_params
from leadsift.core.io import batch_files, write_csv, write_json, write_parquet
from leadsift.leads.cleaning import cleaning_options
from leadsift.leads.param_rules import RULES
from leadsift.leads.schema import ColumnRoles, load_raw_table
from leadsift.leads.scoring import clean_and_score, load_scoring_model, sales_view

log = logging.getLogger("leadsift.leads.score")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("batches", help="directory of incoming batches, params `leads_score.input`")
    parser.add_argument("out_dir", help="directory for the scored files")
    parser.add_argument("report", help="row accounting JSON")
    args = parser.parse_args()
    params = load_params(RULES)
    roles = ColumnRoles.from_params(params["leads"])
    model, version = load_scoring_model(params["leads_score"]["model"])
    tiers = model.tiers
    reasons = params["leads_score"]["reasons"]
    if reasons and not model.explains:
        log.warning(
            "%s has no exact per-lead contributions: the sales files carry no reasons "
            "(model.family lightgbm and logistic_regression have them)",
            version,
        )
    out = Path(args.out_dir)
    summary = {"threshold": tiers.cold_below, "model_version": version, "batches": {}}
    for path in batch_files(args.batches, "leads_score.input"):
        batch = load_raw_table(path, roles, "leads_score.input", labelled=False)
        result, scored = clean_and_score(
            model,
            batch,
            roles,
            **cleaning_options(params),
            source=str(path),
            model_version=version,
            with_reasons=reasons,
        )
        write_parquet(out / "leads" / f"{path.stem}.parquet", scored)
        write_csv(out / "sales" / f"{path.stem}.csv", sales_view(scored, roles))
        write_parquet(out / "quarantine" / f"{path.stem}.parquet", result.quarantine)
        junk_share = float(scored["is_junk"].mean())
        shares = scored["tier"].value_counts(normalize=True)
        summary["batches"][path.stem] = {
            **result.counts,
            "junk_share": junk_share,
            "tier_shares": {name: float(shares.get(name, 0.0)) for name in tiers.names.values()},
        }
        log.info(
            "%s scored with %s: %s; %.1f%% flagged junk",
            path.stem,
            version,
            ", ".join(f"{k}={v:,}" for k, v in result.counts.items()),
            100 * junk_share,
        )
    write_json(args.report, summary)


if __name__ == "__main__":
    run_stage(main)

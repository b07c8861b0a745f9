"""Stage score: score a batch of incoming leads with the model named by `score.model`.

Writes every scored lead (parquet), the sales file (CSV: lead id, 0-100 score, junk flag, model
version), the quarantined rows with reasons, and the row accounting in reports/scoring.json.
"""

import argparse
import json
import logging
from pathlib import Path

from leadsift.cleaning import clean_leads
from leadsift.cli import run_stage
from leadsift.config import load_params
from leadsift.io import write_csv, write_json, write_parquet
from leadsift.schema import ColumnRoles, load_raw_table
from leadsift.scoring import load_scoring_model, sales_view, score_leads

log = logging.getLogger("leadsift.score")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("batch", help="incoming leads (CSV or parquet), params `score.input`")
    parser.add_argument("metrics", help="reports/metrics.json, for the business threshold")
    parser.add_argument("out_dir", help="directory for the scored files")
    parser.add_argument("report", help="row accounting JSON")
    args = parser.parse_args()
    params = load_params()
    roles = ColumnRoles.from_params(params["data"])
    batch = load_raw_table(args.batch, roles, "score.input", labelled=False)
    result = clean_leads(
        batch,
        roles,
        missing_values=params["prepare"]["missing_values"],
        aliases=params["prepare"]["aliases"] or {},
        source=args.batch,
        labelled=False,
    )
    threshold = json.loads(Path(args.metrics).read_text())["business"]["threshold"]
    model, version = load_scoring_model(params["score"]["model"])
    log.info("scoring %s leads with %s", f"{len(result.clean):,}", version)
    scored = score_leads(model, result.clean, roles, threshold=threshold, model_version=version)

    out = Path(args.out_dir)
    write_parquet(out / "leads_scored.parquet", scored)
    write_csv(out / "leads_scored.csv", sales_view(scored, roles))
    write_parquet(out / "quarantine.parquet", result.quarantine)
    summary = {
        **result.counts,
        "threshold": threshold,
        "model_version": version,
        "junk_share": float(scored["is_junk"].mean()) if len(scored) else None,
    }
    write_json(args.report, summary)
    log.info(
        "rows: %s; %.1f%% flagged junk",
        ", ".join(f"{k}={v:,}" for k, v in result.counts.items()),
        100 * (summary["junk_share"] or 0),
    )


if __name__ == "__main__":
    run_stage(main)

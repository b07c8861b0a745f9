"""Stage customers_forecast: next months' net revenue, in total and per segment, by the model that
wins a rolling-origin backtest (leadsift.customers.forecast.backtest).

Every candidate forecasts `forecast.horizon` months from each backtest origin, trained on the
months before it; the lowest `forecast.metric` picks the model, which is refitted on the whole
history. The total knows the planned campaigns of `forecast_setup.campaigns` (config.yaml).
Where the generator's expected revenue is the export's truth (the embedded shop:
`truth.generator_truth`), the error of forecasting with it from each origin (what the generative
model expects given the history up to it: what no forecaster who knew that model could foresee)
is reported next to ours.
"""

import argparse
import logging
from pathlib import Path

import pandas as pd

from leadsift.core import tracking
from leadsift.core.cli import run_stage
from leadsift.core.config import load_params
from leadsift.core.io import write_csv, write_json
from leadsift.core.plots import save_figure
from leadsift.customers.forecast.backtest import describe, forecast_all, total_chosen
from leadsift.customers.forecast.models import Settings
from leadsift.customers.forecast.series import TOTAL, shop_revenue
from leadsift.customers.forecast.truth import generator_truth, truth_by_origin
from leadsift.customers.param_rules import RULES
from leadsift.customers.plots import forecast_figure

log = logging.getLogger("leadsift.customers.forecast")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("transactions", help="clean transaction lines (parquet)")
    parser.add_argument("segments", help="every customer's segment (CSV)")
    parser.add_argument("expected", help="the generator's expected revenue by origin and month")
    parser.add_argument("reports", help="reports directory of the customers pipeline")
    args = parser.parse_args()
    params = load_params(RULES)
    lines = pd.read_parquet(
        args.transactions, columns=["customer_id", "invoice", "timestamp", "amount", "cancellation"]
    )
    names = pd.read_csv(args.segments, dtype={"customer_id": "str"})
    revenue = shop_revenue(
        lines,
        names.set_index("customer_id")["name"],
        min_periods=params["forecast_setup"]["min_periods"],
        source=args.transactions,
    )
    table = revenue.monthly
    log.info("%d months of revenue, %s to %s", len(table), table.index[0], table.index[-1])
    raw_path = Path(params["transactions"]["raw_path"])
    expected = generator_truth(
        pd.read_parquet(args.expected), Path(args.expected), raw_path, table.index
    )
    settings = Settings.from_params(params)
    for campaign in settings.campaigns.campaigns:
        log.info("planned campaign %s", campaign)
    backtest, ahead, summaries = forecast_all(revenue, settings, expected)
    total = summaries[TOTAL]
    reports = Path(args.reports)
    out = reports / "forecast"
    write_csv(out / "forecast.csv", ahead, float_format="%.2f")
    write_csv(out / "backtest.csv", backtest, float_format="%.6g")
    for name, series in (("monthly", table), ("weekly", revenue.weekly)):
        rows = series.reset_index().astype({series.index.name: "str"})
        write_csv(out / f"{name}.csv", rows, float_format="%.2f")
    campaigns = [c.name for c in settings.campaigns.campaigns]
    write_json(
        reports / "forecast.json",
        {"months": len(table), "campaigns": campaigns, "series": summaries},
    )
    chosen, ahead_total = total_chosen(backtest, ahead, summaries)
    truth = truth_by_origin(expected, chosen, ahead_total)
    save_figure(forecast_figure(table[TOTAL], chosen, ahead_total, truth), out / "forecast.png")
    tracking.log_stage(
        params["mlflow"]["experiment"],
        "customers_forecast",
        tags=tracking.run_tags("customers_forecast", total["model"], str(raw_path)),
        params={k: params[k] for k in ("forecast", "forecast_setup")},
        metrics={
            "next": total["next"],
            **total["models"][total["model"]],
            "truth": total["truth"] or {},
        },
        artifacts=[("forecast", out / f) for f in ("forecast.csv", "backtest.csv", "forecast.png")],
    )
    log.info("%s; %s", *describe(total))
    for note in total["notes"]:
        log.info("note: %s", note)


if __name__ == "__main__":
    run_stage(main)

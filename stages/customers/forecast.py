"""Stage customers_forecast: next months' net revenue, in total and per segment, by the model that
wins a rolling-origin backtest (leadsift.customers.forecast).

Every candidate forecasts `forecast.horizon` months from each backtest origin, trained on the
months before it; the lowest `forecast.metric` picks the model, which is refitted on the whole
history. Where the generator's expected revenue covers the months (the embedded shop), the error of
forecasting with it from each origin (what the generative model expects given the history up to
it: what no forecaster who knew that model could foresee) is reported next to ours.
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
from leadsift.customers import forecast
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
    settings = forecast.Settings.from_params(params)
    lines = pd.read_parquet(
        args.transactions, columns=["customer_id", "invoice", "timestamp", "amount", "cancellation"]
    )
    names = pd.read_csv(args.segments, dtype={"customer_id": "str"})
    segments = names.set_index("customer_id")["name"]
    table, notes = forecast.monthly_revenue(lines, segments)
    weekly = forecast.weekly_revenue(lines, segments)
    forecast.require_history(
        table[forecast.TOTAL], params["forecast_setup"]["min_periods"], args.transactions
    )
    log.info("%d months of revenue, %s to %s", len(table), table.index[0], table.index[-1])
    # The truth belongs to the embedded shop: it is used only next to the generator's own export.
    raw_path = Path(params["transactions"]["raw_path"])
    expected = None
    if Path(args.expected).parent.resolve() == raw_path.parent.resolve():
        truth = pd.read_parquet(args.expected)
        expected = truth.set_index(["origin", "month"])
    orders = forecast.customer_orders(lines, segments)
    backtest, ahead, summaries = forecast.forecast_all(
        table, settings, expected, weekly=weekly, orders=orders
    )
    total = summaries[forecast.TOTAL]
    total["notes"] = notes + total["notes"]
    reports = Path(args.reports)
    out = reports / "forecast"
    write_csv(out / "forecast.csv", ahead, float_format="%.2f")
    write_csv(out / "backtest.csv", backtest, float_format="%.6g")
    for name, series in (("monthly", table), ("weekly", weekly)):
        rows = series.reset_index().astype({series.index.name: "str"})
        write_csv(out / f"{name}.csv", rows, float_format="%.2f")
    write_json(reports / "forecast.json", {"months": len(table), "series": summaries})
    chosen = backtest[
        (backtest["series"] == forecast.TOTAL) & (backtest["model"] == total["model"])
    ]
    ahead_total = ahead[ahead["series"] == forecast.TOTAL]
    truth = []  # the expected revenue from the same origins, where there is one
    if expected is not None:
        last = str(table.index[-1])
        truth = forecast.truth_by_origin(expected.iloc[:, 0], chosen, ahead_total, last)
    figure = forecast_figure(table[forecast.TOTAL], chosen, ahead_total, truth)
    save_figure(figure, out / "forecast.png")
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
    log.info("%s; %s", *forecast.describe(total))
    for note in total["notes"]:
        log.info("note: %s", note)


if __name__ == "__main__":
    run_stage(main)

"""The segmentation's figures: the study's silhouette by number of segments, the segments'
profiles (standardised feature medians), a 2-D projection of the customers coloured by segment,
revenue by segment, and the Lorenz curve of revenue per customer."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from sklearn.decomposition import PCA

from leadsift.core.plots import COLORS, STYLE, figure, plt

SEGMENT_COLORS = plt.get_cmap("tab10").colors


def silhouette_by_k_figure(trials: pd.DataFrame, chosen: int) -> Figure:
    """Each completed trial's silhouette against its number of segments, one series per other
    setting (e.g. the mixture's covariance); pruned settings (a sliver segment) are not drawn."""
    fig, ax = figure("Segmentation study", "number of segments", "silhouette (sample)")
    done = trials[trials["state"] == "complete"]
    others = [c for c in done.columns if c.startswith("param_") and c != "param_n_segments"]
    groups = done.groupby(others, dropna=False) if others else [("all", done)]
    for i, (name, group) in enumerate(groups):
        label = ", ".join(map(str, name)) if isinstance(name, tuple) else str(name)
        shown = group.sort_values("param_n_segments")
        ax.plot(shown["param_n_segments"], shown["value"], marker="o", label=label,
                color=SEGMENT_COLORS[i % len(SEGMENT_COLORS)])  # fmt: skip
    ax.axvline(chosen, color=COLORS["reference"], linestyle=":", label=f"chosen: {chosen}")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.legend(loc="lower left")
    return fig


def profile_heatmap(
    medians: pd.DataFrame, customers: pd.DataFrame, names: Mapping[int, str]
) -> Figure:
    """Each segment's median of each feature, standardised against all customers (log scale):
    red above the typical customer, blue below."""
    spread = np.log1p(customers.clip(lower=0))
    z = (np.log1p(medians[customers.columns].clip(lower=0)) - spread.median()) / spread.std()
    with plt.rc_context({**STYLE, "axes.grid": False}):
        fig, ax = plt.subplots(figsize=(0.7 * len(customers.columns) + 3.5, 0.5 * len(z) + 2.2))
    image = ax.imshow(z.to_numpy(), cmap="RdBu_r", vmin=-2.5, vmax=2.5, aspect="auto")
    for (i, j), value in np.ndenumerate(z.to_numpy()):
        ax.text(j, i, f"{value:+.1f}", ha="center", va="center", fontsize=7)
    ax.set_xticks(range(len(z.columns)), z.columns, rotation=40, ha="right")
    ax.set_yticks(range(len(z)), [f"{s}. {names[s]}" for s in z.index])
    ax.set_title("Segment profiles: median against all customers (standard deviations)")
    fig.colorbar(image, ax=ax, shrink=0.8)
    return fig


def projection_figure(
    scaled: np.ndarray, segments: np.ndarray, names: Mapping[int, str], seed: int
) -> Figure:
    """The customers on the first two principal components of the scaled features."""
    points = PCA(n_components=2, random_state=seed).fit_transform(scaled)
    rows = np.random.default_rng(seed).permutation(len(points))[:5000]  # a readable cloud
    fig, ax = figure(
        "Customers by segment (PCA of the scaled features)", "component 1", "component 2"
    )
    for segment in sorted(names):
        mine = rows[segments[rows] == segment]
        ax.scatter(points[mine, 0], points[mine, 1], s=4, alpha=0.5,
                   color=SEGMENT_COLORS[(segment - 1) % len(SEGMENT_COLORS)],
                   label=f"{segment}. {names[segment]}")  # fmt: skip
    ax.legend(loc="best", fontsize=7, markerscale=3)
    return fig


def revenue_share_figure(table: pd.DataFrame, names: Mapping[int, str]) -> Figure:
    """Each segment's share of customers and of revenue, side by side."""
    fig, ax = figure("Customers and revenue by segment", "share", "")
    positions = np.arange(len(table))
    ax.barh(positions + 0.2, table["customer_share"], height=0.4, color=COLORS["reference"],
            label="customers")  # fmt: skip
    ax.barh(positions - 0.2, table["revenue_share"], height=0.4, color=COLORS["model"],
            label="revenue")  # fmt: skip
    ax.set_yticks(positions, [f"{s}. {names[s]}" for s in table.index])
    ax.invert_yaxis()
    ax.legend(loc="lower right")
    return fig


def lorenz_figure(curve: pd.DataFrame, gini: float) -> Figure:
    """The Lorenz curve of revenue per customer against perfect equality."""
    fig, ax = figure(
        "Revenue concentration", "share of customers (smallest first)", "share of revenue"
    )
    ax.plot([0, 1], [0, 1], color=COLORS["reference"], linestyle=":", label="equal spend")
    ax.plot(
        curve["customers"],
        curve["revenue"],
        color=COLORS["model"],
        label=f"Lorenz curve (Gini {gini:.2f})",
    )
    ax.legend(loc="upper left")
    return fig


def forecast_figure(
    history: pd.Series,
    backtest: pd.DataFrame,
    ahead: pd.DataFrame,
    truth: Sequence[pd.Series] = (),
) -> Figure:
    """Monthly revenue, the chosen model's backtest forecasts (one line per origin), the forecast
    with its interval, and the generator's expected revenue from the same origins (`truth`, one
    series by month per origin; `forecast.truth.truth_by_origin`): the forecast no model can beat on
    average."""
    model = ahead["model"].iloc[0]
    fig, ax = figure(f"Revenue forecast ({model})", "month", "net revenue per month")
    fig.set_size_inches(8.0, 4.5)
    ax.plot(history.index.to_timestamp(), history.to_numpy(), color="black", label="actual")
    for i, (_, run) in enumerate(backtest.groupby("origin")):
        label = "backtest" if i == 0 else None
        ax.plot(pd.PeriodIndex(run["month"], freq="M").to_timestamp(), run["forecast"],
                color=COLORS["reference"], linestyle="--", label=label)  # fmt: skip
    months = pd.PeriodIndex(ahead["month"], freq="M").to_timestamp()
    ax.fill_between(months, ahead["lower"], ahead["upper"], color=COLORS["model"], alpha=0.2,
                    label="interval")  # fmt: skip
    ax.plot(months, ahead["forecast"], color=COLORS["model"], marker="o", label="forecast")
    for i, line in enumerate(truth):
        ax.plot(pd.PeriodIndex(line.index, freq="M").to_timestamp(), line.to_numpy(),
                color=COLORS["bayes"], linestyle=":",
                label="expected (truth) from the same origin" if i == 0 else None)  # fmt: skip
    ax.legend(loc="upper left")
    fig.autofmt_xdate()
    return fig

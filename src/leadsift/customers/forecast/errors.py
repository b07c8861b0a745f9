"""How far forecasts are from what happened: the errors the backtest scores models by and
compares them with the truth by."""

from __future__ import annotations

import numpy as np


def errors(actual: np.ndarray, forecast: np.ndarray, scale: np.ndarray) -> dict[str, float]:
    """MAE, MAPE, sMAPE (in %) and MASE (|error| / the in-sample one-step naive MAE)."""
    gap = np.abs(actual - forecast)
    with np.errstate(divide="ignore", invalid="ignore"):
        ape = np.where(actual != 0, gap / np.abs(actual), np.nan)
        sape = np.where(
            np.abs(actual) + np.abs(forecast) > 0, 2 * gap / (np.abs(actual) + np.abs(forecast)), 0
        )
    return {
        "mae": float(gap.mean()),
        "mape": float(100 * np.nanmean(ape)) if np.isfinite(ape).any() else None,
        "smape": float(100 * sape.mean()),
        "mase": float((gap / scale).mean()),
    }

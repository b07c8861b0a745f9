"""What looking ahead is worth: the competition's future-looking features against the ceiling of
an online model, measured, never served.

The features a leaderboard rewarded (`features.LEAKY`: when the same user next clicks the same
app, how many clicks an ip and a user make that whole day) use clicks after the one scored. On
this log they leak the label the way they did there: a user who installs stops clicking that
app's ads. A model with them is fitted as the served one is (same settings, bags and days) and
both are scored on the same test-day clicks; the gap is what the leaderboard's ROC-AUC was made
of, beyond what any model scoring a click when it happens can reach.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import duckdb
from sklearn.metrics import roc_auc_score

from leadsift.clicks.features import LEAKY, feature_names, features_sql
from leadsift.clicks.model import ClickModel
from leadsift.clicks.training import Split, fit, load_sample


def joined_sql(features: str, leaky: str, truth: str | None) -> str:
    """The features with the leaky columns (and the truth's p_true) of each click."""
    names = ", ".join(f"l.{f.name}" for f in LEAKY)
    truth_join = f" LEFT JOIN {truth} p ON p.click_id = f.click_id" if truth else ""
    p_true = "p.p_true" if truth else "CAST(NULL AS DOUBLE) AS p_true"
    return (
        f"(SELECT f.*, {names}, {p_true} FROM {features} f "
        f"JOIN {leaky} l ON l.click_id = f.click_id{truth_join})"
    )


def leak_gap(
    connection: duckdb.DuckDBPyConnection,
    sources: Mapping[str, str | None],
    served: ClickModel,
    params: Mapping[str, Any],
    best: Mapping[str, Any],
    *,
    split: Split,
) -> dict[str, Any]:
    """Test-day ROC-AUC of the served model and of one with the leaky features (and of the truth,
    where `sources["truth"]` names it), all on the same clicks: every attributed one of the test
    days and a share `clicks_register.negative_rate` of the rest. `sources` names the tables of
    the prepared `clicks`, their `features` and the `truth`."""
    connection.execute(f"CREATE TEMP TABLE leaky AS {features_sql(sources['clicks'], LEAKY)}")
    joined = joined_sql(sources["features"], "leaky", sources["truth"])
    names = [*feature_names(), *(f.name for f in LEAKY)]
    leaky, _ = fit(
        connection, joined, params, best, names=names, days=[*split.train, *split.validation]
    )
    rate, seed = params["clicks_register"]["negative_rate"], params["clicks_register"]["seed"]
    test = load_sample(
        connection, joined, [*names, "p_true"], split.test, negative_rate=rate, n_bags=1, seed=seed
    )
    y = test["is_attributed"].to_numpy()
    result = {
        "point_in_time_roc_auc": float(roc_auc_score(y, served.predict_proba(test)[:, 1])),
        "leaky_roc_auc": float(roc_auc_score(y, leaky.predict_proba(test)[:, 1])),
        "leaky_features": [f.name for f in LEAKY],
        "test_clicks": len(test),
        "test_attributed": int(y.sum()),
        "negative_rate": rate,
    }
    result["gap"] = result["leaky_roc_auc"] - result["point_in_time_roc_auc"]
    if sources["truth"]:
        result["ceiling_roc_auc"] = float(roc_auc_score(y, test["p_true"].to_numpy()))
    connection.execute("DROP TABLE leaky")
    return result

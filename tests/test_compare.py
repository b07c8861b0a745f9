from leadsift.compare import VIEWS, experiment_rows, format_table


def rev(name, family, roc_auc=None, error=None):
    metrics = (
        {}
        if roc_auc is None
        else {"reports/metrics.json": {"data": {"roc_auc": roc_auc, "drift_alerts": 0}}}
    )
    params = {"params.yaml": {"data": {"model": {"family": family}, "tune": {"n_trials": 25}}}}
    return {
        "rev": "f" * 40,
        "name": name,
        "data": {"params": params, "metrics": metrics},
        "error": error,
    }


SHOWN = [
    {"rev": "workspace", "name": None, "data": {}},
    {
        **rev("main", "hist_gradient_boosting", 0.88),
        "experiments": [
            {"name": "lin", "executor": None, "revs": [rev("lin", "logistic_regression", 0.86)]},
            {"name": "rf", "executor": None, "revs": [rev("rf", "random_forest", 0.89)]},
            {
                "name": "bad",
                "executor": None,
                "revs": [rev("bad", "random_forest", error={"msg": "x"})],
            },
            {
                "name": "wip",
                "executor": {"state": "running"},
                "revs": [rev("wip", "random_forest")],
            },
        ],
    },
]


def test_rows_are_ranked_best_first_with_unscored_last():
    rows = experiment_rows(SHOWN)
    assert [r["name"] for r in rows[:3]] == ["rf", "main", "lin"]
    assert {r["name"]: r["kind"] for r in rows[3:]} == {"bad": "failed", "wip": "running"}
    assert rows[1]["kind"] == "baseline" and rows[0]["family"] == "random_forest"


def test_table_aligns_and_marks_missing_values():
    lines = format_table(experiment_rows(SHOWN)).splitlines()
    assert lines[0].split()[:5] == ["name", "kind", "family", "trials", "test"]
    assert "0.8900" in lines[1] and lines[-1].split()[4] == "-"
    column = lines[0].index("family")  # every row's family starts under its header
    assert all(line[column:].startswith(("hist_", "logistic_", "random_")) for line in lines[1:])


def segmentation(name, family, metrics):
    params = {"params.yaml": {"data": {"segment": {"family": family, "n_trials": 16}}}}
    return {
        "rev": "e" * 40,
        "name": name,
        "data": {"params": params, "metrics": {"reports/metrics.json": {"data": metrics}}},
        "error": None,
    }


def test_customers_rank_by_agreement_with_the_truth_else_by_silhouette():
    def shown(with_truth: bool) -> list[dict]:
        def metrics(silhouette, ari_share):
            return {"segments": 5, "silhouette": silhouette} | (
                {"ari_share": ari_share} if with_truth else {}
            )

        main = segmentation("main", "gaussian_mixture", metrics(0.30, 0.92))
        variant = segmentation("km", "kmeans", metrics(0.35, 0.85))
        return [{**main, "experiments": [{"name": "km", "executor": None, "revs": [variant]}]}]

    view = VIEWS["customers"]
    assert [r["name"] for r in experiment_rows(shown(True), view)] == ["main", "km"]
    assert [r["name"] for r in experiment_rows(shown(False), view)] == ["km", "main"]
    table = format_table(experiment_rows(shown(True), view), view).splitlines()
    assert table[0].split()[:5] == ["name", "kind", "family", "trials", "segments"]
    assert table[1].split()[2:] == ["gaussian_mixture", "16", "5", "0.3000", "92.0%", "-"]

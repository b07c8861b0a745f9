"""The data profile: column facts, target analysis, warnings, the Markdown page and the data diff,
on small frames whose answers are known."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from leadsift.core import profile_diff
from leadsift.core.profile import ProfilePlan, ProfileSettings, profile_table, separation, wilson
from leadsift.core.profile_diff import compare_profiles, render_diff
from leadsift.core.profile_findings import ranking, warning_lines
from leadsift.core.profile_report import profile_figures, render_profile, sparkline

SETTINGS = ProfileSettings(top_levels=3, bins=4)
PLAN = ProfilePlan(
    name="leads",
    keys={
        "id": "leads.id",
        "when": "leads.timestamp",
        "city": "leads.categorical",
        "visits": "leads.numeric",
        "flag": "leads.numeric",
        "clicks": "leads.interaction_groups.pay",
        "views": "leads.interaction_groups.pay",
        "gone": "leads.categorical",
        "target": "leads.target",
    },
    categorical=("city", "gone"),
    numeric=("visits", "flag", "clicks", "views"),
    ids=("id",),
    timestamp="when",
    target="target",
    non_negative=("visits", "clicks", "views"),
    flags=("flag",),
    groups={"pay": ("clicks", "views")},
    placeholders=("Select",),
)


def frame(n: int = 400, seed: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(seed)
    target = rng.random(n) < 0.3
    city = rng.choice(["Mumbai", "Delhi", "Pune", "Goa"], n, p=[0.5, 0.3, 0.15, 0.05]).astype(
        object
    )
    city[:10] = "Select"
    city[10:14] = " mumbai "  # a variant of Mumbai
    city[14:20] = None
    visits = rng.poisson(2 + 3 * target).astype(object)
    visits[0] = "lots"  # not a number
    visits[1] = -3  # impossible
    days = pd.date_range("2025-01-01", periods=30, freq="D")
    when = days[np.sort(rng.integers(0, 30, n))].strftime("%Y-%m-%d %H:%M:%S").to_numpy()
    when = np.where(pd.DatetimeIndex(when).day.isin(range(10, 20)), "2025-01-05 10:00:00", when)
    df = pd.DataFrame(
        {
            "id": [f"L{i}" for i in range(n - 2)] + ["L0", "L1"],  # two repeated ids
            "when": when,
            "city": city,
            "visits": visits,
            "flag": rng.integers(0, 2, n),
            "clicks": rng.poisson(1 + 2 * target),
            "views": rng.poisson(1, n),
            "serial": [f"S{i:05d}" for i in range(n)],  # undeclared, id-like
            "leak": target.astype(int),  # undeclared, the target itself
            "target": np.where(target, "Yes", "No"),
        }
    )
    df.loc[5, "flag"] = 2  # not a flag
    return df, pd.Series(target, dtype="boolean")


@pytest.fixture(scope="module")
def profile() -> dict:
    df, positive = frame()
    return profile_table(df, PLAN, SETTINGS, positive)


def test_wilson_interval_matches_the_textbook_values():
    low, high = wilson(np.array([5]), np.array([10]), 0.95)[0]
    assert (round(low, 4), round(high, 4)) == (0.2366, 0.7634)
    assert np.isnan(wilson(np.array([0]), np.array([0]), 0.95)).all()


def test_separation_is_roc_auc_with_ties_folded_to_its_direction():
    rng = np.random.default_rng(1)
    score = rng.integers(0, 5, 2000).astype(float)
    positive = rng.random(2000) < 0.2 + 0.1 * score
    auc, direction = separation(score, positive)
    assert auc == pytest.approx(roc_auc_score(positive, score), abs=1e-12)
    assert direction == 1
    assert separation(-score, positive) == (pytest.approx(auc, abs=1e-12), -1)
    assert separation(np.ones(10), positive[:10]) == (None, 0)


def test_categories_count_placeholders_as_missing_and_see_variants(profile):
    city = profile["columns"]["city"]
    assert city["missing"] == pytest.approx(16 / 400)  # 10 "Select" + 6 empty
    assert city["placeholders"] == pytest.approx(10 / 400)
    assert city["distinct"] == 5  # Mumbai, Delhi, Pune, Goa and "mumbai"
    assert city["variants"] == 1
    assert [t["level"] for t in city["top"][:2]] == ["Mumbai", "Delhi"]
    shares = [t["share"] for t in city["top"]]
    assert sum(shares) == pytest.approx(1.0)
    needed = np.searchsorted(np.cumsum(shares), 0.9 - 1e-12) + 1
    assert city["levels_to_coverage"] == needed
    # top 3 levels, the rest, and the missing rows: every labelled row counted once
    assert [r["level"] for r in city["rates"]] == [
        "Mumbai",
        "Delhi",
        "Pune",
        "(other levels)",
        "(missing)",
    ]
    assert sum(r["rows"] for r in city["rates"]) == 400


def test_numbers_report_unparseable_and_impossible_values(profile):
    visits, flag = profile["columns"]["visits"], profile["columns"]["flag"]
    assert visits["unparseable"] == 1 and visits["impossible"] == 1
    assert visits["missing"] == pytest.approx(1 / 400)
    assert flag["impossible"] == 1
    assert visits["direction"] == 1 and visits["auc"] > 0.7  # more visits, more genuine
    assert sum(r["rows"] for r in visits["rates"]) == 399  # the unparseable row is missing
    assert sum(visits["histogram"]["counts"]) == 399


def test_group_totals_are_profiled_and_ranked(profile):
    total = profile["groups"]["pay"]
    assert total["members"] == ["clicks", "views"]
    names = [name for name, *_ in ranking(profile)]
    assert names[0] == "leak"  # the target itself separates perfectly
    assert "pay (total)" in names and "city" in names
    assert profile["target"] == {
        "column": "target",
        "labelled": 400,
        "rate": pytest.approx(0.3, abs=0.05),
    }


def test_times_show_their_gaps(profile):
    when = profile["columns"]["when"]
    assert when["kind"] == "time" and when["unparseable"] == 0
    assert when["longest_gap"] == 10  # days 10 to 19 moved to the 5th
    assert sum(when["weeks"].values()) == 400


def test_warnings_name_each_problem(profile):
    text = "\n".join(profile["warnings"])
    assert "exact duplicate rows" not in text  # repeated ids, but the rows differ
    for expected in (
        "id: repeated ids (2)",
        "visits: values that are not numbers (1)",
        "city: levels that differ from another only in case or spaces (1)",
        "serial: looks like an id (400 distinct)",
        "leak: separates the target almost alone",
        "when: a week or more without rows (10 days)",
        "gone: declared but not in the file (`leads.categorical`)",
    ):
        assert expected in text, expected
    # impossible values in visits and flag: few columns, one line each
    assert "visits: impossible values" in text and "flag: impossible values" in text


def test_a_problem_shared_by_many_columns_is_one_line():
    found = [
        {"column": f"c{i}", "problem": "impossible values", "detail": str(i)} for i in range(9)
    ]
    lines = warning_lines(found)
    assert lines == [
        "impossible values, in 9 columns: c0 (0), c1 (1), c2 (2), c3 (3), c4 (4), c5 (5) and 3 more"
    ]


def test_a_target_that_cannot_be_read_is_a_warning_not_a_crash():
    df, _ = frame()
    profile = profile_table(df, PLAN, SETTINGS, None, target_problem="found 1 class")
    assert "target" not in profile
    assert any("no target analysis" in w for w in profile["warnings"])


def test_the_page_links_every_figure_and_lists_the_warnings(profile):
    figures = profile_figures(profile, SETTINGS.top_levels)
    assert set(figures) == {
        "timeline.png",
        "numbers.png",
        "categories.png",
        "target.png",
        "correlations.png",
    }
    page = render_profile(profile, "data/raw/leads.csv", list(figures))
    for name in figures:
        assert f"(leads/{name})" in page
    for warning in profile["warnings"]:
        assert f"- {warning}" in page
    assert "| 1 | `leak` | 1.000 | higher → genuine |" in page


def test_sparkline_scales_to_the_tallest_bin():
    assert sparkline([0, 5, 10]) == "▁▅█"
    assert sparkline([]) == ""


def test_the_diff_reports_moved_columns_and_levels():
    df, positive = frame()
    base = profile_table(df, PLAN, SETTINGS, positive)
    later = df.drop(columns="serial").assign(
        city=np.where(np.arange(400) < 200, "Chennai", df["city"]),
        clicks=df["clicks"] + 3,
        extra=1,
    )
    head = profile_table(later, PLAN, SETTINGS, positive)
    diff = {c["column"]: c["change"] for c in compare_profiles(base, head)["changes"]}
    assert diff["serial"] == "removed" and diff["extra"] == "added"
    assert "new among top levels: Chennai" in diff["city"]
    assert "level shares moved" in diff["city"]
    assert diff["clicks"].startswith("mean ")
    assert "views" not in diff and "flag" not in diff
    assert compare_profiles(base, base)["changes"] == []
    assert "No column changed" in render_diff("leads", compare_profiles(base, base))


def test_the_diff_command_compares_two_files_or_says_there_is_no_base(tmp_path, capsys, profile):
    head = tmp_path / "head.json"
    head.write_text(json.dumps(profile))
    profile_diff.main([str(tmp_path / "absent.json"), str(head)])
    assert "No profile on the base branch" in capsys.readouterr().out
    profile_diff.main([str(head), str(head)])
    assert "400 → 400 rows" in capsys.readouterr().out

"""Preparing a click log in the engine: a TalkingData-shaped export with a bad row of each kind,
each quarantined with exactly its reasons, every row accounted for, the clean clicks numbered by
click time (then file and row), the later days' labels left unread, repeated ids, and the
refusals (a folder of mixed formats, half-labelled roles)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from leadsift.clicks import engine
from leadsift.clicks.cleaning import input_files, prepare
from leadsift.clicks.schema import ClickRoles
from leadsift.core.io import InputError

HEADER = "ip,app,device,os,channel,click_time,attributed_time,is_attributed\n"
ROLES = {
    "ip": "ip", "app": "app", "device": "device", "os": "os", "channel": "channel",
    "click_time": "click_time", "attributed_time": "attributed_time",
    "is_attributed": "is_attributed",
}  # fmt: skip
TALKINGDATA = ClickRoles(**ROLES)  # no click_id: numbered in click-time order
WITH_IDS = ClickRoles(**ROLES, click_id="click_id")
# (line, reasons): the first day's file, TalkingData's shape and times; None: a clean row
DAY_ONE = [
    ("100,3,1,13,379,2017-11-06 14:32:21,,0", None),
    ("101,3,1,13,379,2017-11-06 14:32:21,2017-11-06 15:01:02,1", None),  # same second
    ("-45745,14,1,13,478,2017-11-06 14:34:52,,0", "negative ip"),
    ("161007,abc,1,13,379,2017-11-06 14:35:08,,0", "app not a whole number"),
    ("18787,3,1,16,379,2017-11-06 25:61:00,,0", "click_time not a time"),
    ("18788,3,1,16,379,,,0", "missing click_time"),
    ("103022,3,1,23,379,2017-11-06 14:37:44,2017-11-06 14:00:00,1",
     "attributed_time before click_time"),
    ("114221,3,1,19,379,2017-11-06 09:37:44,,1", "is_attributed 1 without attributed_time"),
    ("114222,3,1,19,379,2017-11-06 09:37:45,2017-11-06 10:00:00,0",
     "attributed_time given but is_attributed 0"),
    ("114223,3,1,19,379,2017-11-06 09:37:46,,2", "is_attributed not 0 or 1"),
    ("-1,x,1,13,379,2017-11-06 10:00:00,,0", "negative ip; app not a whole number"),
    ("102,3,1,13,379,2017-11-06 08:00:00,,0", None),  # earliest
    ("103,3,1,13,379,2017-11-07 00:00:00,,0", None),  # ties with the next file's clicks
    (",3,1,13,379,2017-11-06 11:00:00,,0", "missing ip"),
    ("104,3,1,13,2147483648,2017-11-06 11:00:01,,0", "channel above 2147483647"),
    ("105,3,1,13,379,2017-11-06 12:00:00,not a time,1",
     "attributed_time not a time; is_attributed 1 without attributed_time"),
    ("106,3,1,13,379,2017-11-06 12:00:01,,", "missing is_attributed"),
    ("107,3,1,13,379,2017-11-06 12:00:02,2017-11-06 12:00:02,1.0", None),  # installs at once
]  # fmt: skip
DAY_TWO = [
    ("200,3,1,13,379,2017-11-07 00:00:00,,0", None),
    ("201,3,1,13,379,2017-11-06 23:59:59,,0", None),
    ("202,3,1,13,379,2017-11-07 00:00:00,2017-11-07 00:00:00,1", None),
]
# later days: their labels (right or wrong) are not read, their ids and times are
INCOMING = [
    ("300,3,1,13,379,2017-11-08 00:00:05,2017-11-08 01:00:00,1", None),
    ("301,3,1,13,379,2017-11-08 00:00:01,,2", None),
    ("302,3,1,13,379,2017-11-08 00:00:01,2017-11-07 00:00:00,0", None),
    ("-5,3,1,13,379,2017-11-08 00:00:02,,0", "negative ip"),
]


def epoch(text: str) -> int:
    return int(pd.Timestamp(text, tz="UTC").timestamp())


def write_csv(path: Path, lines: list[tuple[str, str | None]], header: str = HEADER) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(header + "".join(line + "\n" for line, _ in lines))
    return path


def run_prepare(roles: ClickRoles, files: dict[str, list[Path]], out: Path, threads: int = 1):
    """The accounting, the clean clicks and the quarantine of `prepare` on `files`."""
    settings = engine.EngineSettings("1GB", str(out / "spill"), threads)
    with engine.connect(settings) as connection:
        counts = prepare(connection, roles, files, out / "clean.parquet", out / "q.parquet")
    return counts, pd.read_parquet(out / "clean.parquet"), pd.read_parquet(out / "q.parquet")


@pytest.fixture
def talkingdata(tmp_path: Path) -> dict[str, list[Path]]:
    write_csv(tmp_path / "raw" / "2017-11-06.csv", DAY_ONE)
    write_csv(tmp_path / "raw" / "2017-11-07.csv", DAY_TWO)
    write_csv(tmp_path / "incoming" / "2017-11-08.csv", INCOMING)
    return {
        "log": input_files(tmp_path / "raw", "clicks.raw_path"),
        "incoming": input_files(tmp_path / "incoming", "clicks.incoming"),
    }


@pytest.mark.parametrize("time_format", [None, "%Y-%m-%d %H:%M:%S"])
def test_each_bad_row_is_quarantined_with_exactly_its_reasons(talkingdata, tmp_path, time_format):
    roles = ClickRoles(**ROLES, time_format=time_format)
    counts, clean, quarantine = run_prepare(roles, talkingdata, tmp_path)
    parts = {"log": [DAY_ONE, DAY_TWO], "incoming": [INCOMING]}
    expected = {
        (part, file, row): reason
        for part, files in parts.items()
        for file, lines in enumerate(files, start=1)
        for row, (_, reason) in enumerate(lines, start=1)
        if reason is not None
    }
    got = {(q.part, q.file, q.row): q.reason for q in quarantine.itertuples()}
    assert got == expected
    # every row accounted for, part by part
    for part, files in parts.items():
        lines = [reason for f in files for _, reason in f]
        bad = [r for r in lines if r is not None]
        assert counts[part]["rows_in"] == len(lines)
        assert counts[part]["rows_clean"] == len(lines) - len(bad) == (clean["part"] == part).sum()
        assert counts[part]["rows_quarantined"] == len(bad) == (quarantine["part"] == part).sum()
        count = counts[part]
        assert count["rows_in"] == count["rows_clean"] + count["rows_quarantined"]
        reasons = pd.Series([r for b in bad for r in b.split("; ")]).value_counts().to_dict()
        assert counts[part]["reasons"] == reasons
    assert counts["log"]["first_click"] == epoch("2017-11-06 08:00:00")
    assert counts["log"]["last_click"] == epoch("2017-11-07 00:00:00")
    assert counts["log"]["attributed_share"] == pytest.approx(3 / 8)
    # the quarantine keeps the text as it was
    row = quarantine.set_index(["part", "file", "row"])
    assert row.loc[("log", 1, 4), "app"] == "abc"
    assert row.loc[("log", 1, 5), "click_time"] == "2017-11-06 25:61:00"
    assert row.loc[("log", 1, 11), ["ip", "app"]].tolist() == ["-1", "x"]
    assert row.loc[("log", 1, 16), "attributed_time"] == "not a time"
    assert row.loc[("log", 1, 10), "is_attributed"] == "2"


def test_clean_clicks_are_numbered_by_click_time_then_file_and_row(talkingdata, tmp_path):
    _, clean, _ = run_prepare(TALKINGDATA, talkingdata, tmp_path)
    # the clean rows' ips, as (click_time, file, row) orders them; the later days after the log
    order = [100, 101, 102, 103, 107, 200, 201, 202]
    times = {100: "2017-11-06 14:32:21", 101: "2017-11-06 14:32:21", 102: "2017-11-06 08:00:00",
             103: "2017-11-07 00:00:00", 107: "2017-11-06 12:00:02", 200: "2017-11-07 00:00:00",
             201: "2017-11-06 23:59:59", 202: "2017-11-07 00:00:00"}  # fmt: skip
    log_order = sorted(order, key=lambda ip: (epoch(times[ip]), ip // 100, ip))
    assert log_order == [102, 107, 100, 101, 201, 103, 200, 202]
    assert clean["ip"].tolist() == [*log_order, 301, 302, 300]
    assert clean["click_id"].tolist() == list(range(11))
    assert clean["part"].tolist() == ["log"] * 8 + ["incoming"] * 3
    assert clean["t"].tolist()[:8] == [epoch(times[ip]) for ip in log_order]
    # labels on the log, as given; none on the later days, whatever their files say
    labelled = clean.set_index("ip")
    assert labelled.loc[log_order, "is_attributed"].tolist() == [0, 1, 0, 1, 0, 0, 0, 1]
    assert labelled.loc[101, "attributed_t"] == epoch("2017-11-06 15:01:02")
    assert labelled.loc[202, "attributed_t"] == labelled.loc[202, "t"]
    assert labelled.loc[[300, 301, 302], ["attributed_t", "is_attributed"]].isna().all().all()
    assert labelled.loc[log_order, "attributed_t"].notna().sum() == 3
    schema = pq.read_schema(tmp_path / "clean.parquet")
    assert schema.field("click_id").type == pa.int64() and schema.field("t").type == pa.int64()
    ids = ("ip", "app", "device", "os", "channel")
    assert {schema.field(c).type for c in ids} == {pa.int32()}


def test_later_days_without_label_columns_are_prepared(tmp_path):
    files = {
        "log": [write_csv(tmp_path / "raw" / "a.csv", DAY_TWO)],
        "incoming": [
            write_csv(
                tmp_path / "incoming" / "b.csv",
                [("5,300,3,1,13,379,2017-11-08 00:00:05", None)],
                "click_id,ip,app,device,os,channel,click_time\n",
            )
        ],
    }
    counts, clean, quarantine = run_prepare(TALKINGDATA, files, tmp_path)
    assert counts["incoming"]["rows_clean"] == 1 and quarantine.empty
    assert clean["click_id"].tolist() == [0, 1, 2, 3] and clean["ip"].tolist()[-1] == 300


def test_a_repeated_click_id_is_quarantined_when_ids_are_given(tmp_path):
    def day(path: Path, ids: list[int], start: str) -> Path:
        n = len(ids)
        table = pa.table(
            {
                "click_id": pa.array(ids, pa.int64()),
                **{c: pa.array(np.arange(n) + 10 * k, pa.int32())
                   for k, c in enumerate(("ip", "app", "device", "os", "channel"))},
                "click_time": pa.array(pd.date_range(start, periods=n, freq="s")),
                "attributed_time": pa.array([None] * n, pa.timestamp("ms")),
                "is_attributed": pa.array([0] * n, pa.int8()),
            }
        )  # fmt: skip
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, path)
        return path

    files = {
        "log": [
            day(tmp_path / "raw" / "1.parquet", [5, 9, 5, 7], "2017-11-06 10:00:00"),
            day(tmp_path / "raw" / "2.parquet", [9, 11], "2017-11-06 09:00:00"),
        ],
        "incoming": [day(tmp_path / "incoming" / "3.parquet", [7, 8], "2017-11-07 10:00:00")],
    }
    counts, clean, quarantine = run_prepare(WITH_IDS, files, tmp_path)
    # the first holder of an id keeps it, by part (log first), file and row
    assert clean["click_id"].tolist() == [5, 7, 8, 9, 11]
    assert clean.set_index("click_id")["ip"].to_dict() == {5: 0, 7: 3, 8: 1, 9: 1, 11: 1}
    assert clean["part"].tolist() == ["log", "log", "incoming", "log", "log"]
    got = quarantine[["part", "file", "row", "click_id", "reason"]].to_numpy().tolist()
    assert got == [
        ["incoming", 1, 1, "7", "click_id repeated"],
        ["log", 1, 3, "5", "click_id repeated"],
        ["log", 2, 1, "9", "click_id repeated"],
    ]
    assert counts["log"]["reasons"] == {"click_id repeated": 2}
    assert counts["incoming"]["rows_quarantined"] == 1 and counts["log"]["rows_clean"] == 4


def test_a_row_repeating_an_id_keeps_its_other_faults_text_in_the_quarantine(tmp_path):
    """The quarantine is the evidence of what was wrong: a row with a bad value and a repeated
    id must show the bad value as it was."""
    lines = [
        ("1,10,3,1,13,379,2017-11-06 14:32:21,,0", None),
        ("1,13,x,1,13,379,2017-11-06 14:32:22,,0", "app not a whole number; click_id repeated"),
        ("1,14,3,1,13,379,2017-11-06 99:00:00,,0", "click_time not a time; click_id repeated"),
    ]
    raw = write_csv(tmp_path / "raw.csv", lines, "click_id," + HEADER)
    _, _, quarantine = run_prepare(WITH_IDS, {"log": [raw]}, tmp_path)
    assert quarantine["reason"].tolist() == [reason for _, reason in lines[1:]]
    assert quarantine["app"].tolist() == ["x", "3"]
    assert quarantine["click_time"].tolist()[1] == "2017-11-06 99:00:00"


def test_a_fractional_id_is_not_a_whole_number(tmp_path):
    """An app id of "3.5" is not a whole number: it must not be read as 4."""
    lines = [
        ("100,3.5,1,13,379,2017-11-06 14:32:21,,0", "app not a whole number"),
        ("101,3,1,13,379,2017-11-06 14:32:22,,0", None),
    ]
    raw = write_csv(tmp_path / "raw.csv", lines)
    counts, clean, _ = run_prepare(TALKINGDATA, {"log": [raw]}, tmp_path)
    assert counts["log"]["reasons"] == {"app not a whole number": 1}
    assert clean["app"].tolist() == [3]


def test_row_numbers_are_the_files_rows_when_the_engine_reads_in_parallel(tmp_path):
    """A large CSV read on two threads: the quarantine names the bad row's own line, and clicks of
    one second are numbered in row order."""
    n, bad = 1_000_000, 777_777
    ips = np.arange(n).astype(str)
    ips[bad - 1] = "bad"
    text = "\n".join(np.char.add(ips, ",3,1,13,379,2017-11-06 14:32:21,,0"))
    raw = tmp_path / "raw.csv"
    raw.write_text(HEADER + text + "\n")
    counts, clean, quarantine = run_prepare(TALKINGDATA, {"log": [raw]}, tmp_path, threads=2)
    assert counts["log"]["rows_in"] == n and counts["log"]["rows_quarantined"] == 1
    assert quarantine[["row", "ip"]].to_numpy().tolist() == [[bad, "bad"]]
    assert np.array_equal(clean["ip"].to_numpy(), np.delete(np.arange(n), bad - 1))


def test_a_log_with_every_row_bad_is_refused(tmp_path):
    raw = write_csv(tmp_path / "raw.csv", DAY_ONE[2:4])
    with pytest.raises(InputError, match="every row of the click log was quarantined"):
        run_prepare(TALKINGDATA, {"log": [raw]}, tmp_path)


def test_a_folder_mixing_csv_and_parquet_is_one_clear_error(tmp_path):
    write_csv(tmp_path / "raw" / "2017-11-06.csv", DAY_TWO)
    pq.write_table(pa.table({"ip": [1]}), tmp_path / "raw" / "2017-11-07.parquet")
    with pytest.raises(InputError, match="mixes CSV and Parquet") as error:
        input_files(tmp_path / "raw", "clicks.raw_path")
    assert str(error.value).startswith("`clicks.raw_path`: ")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match=r"holds no \.parquet or \.csv"):
        input_files(tmp_path / "empty", "clicks.incoming")
    assert input_files(tmp_path / "raw" / "2017-11-06.csv", "x") == [
        tmp_path / "raw" / "2017-11-06.csv"
    ]


def test_roles_refuse_a_half_labelled_log_and_one_column_for_two_roles():
    section = {**ROLES, "raw_path": "data/clicks/raw", "incoming": "data/clicks/incoming"}
    assert ClickRoles.from_params(section) == TALKINGDATA
    assert ClickRoles.from_params(section).labelled
    unlabelled = {k: v for k, v in section.items() if k not in ("attributed_time", "is_attributed")}
    assert not ClickRoles.from_params(unlabelled).labelled
    for half in ("attributed_time", "is_attributed"):
        with pytest.raises(InputError, match="set both"):
            ClickRoles.from_params({**section, half: None})
    with pytest.raises(InputError, match="one column for two roles"):
        ClickRoles.from_params({**section, "click_id": "ip"})
    assert ClickRoles.from_params({**section, "click_id": "click_id"}) == WITH_IDS

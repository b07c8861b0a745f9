import json
import stat
from pathlib import Path

import pandas as pd
import pytest

from leadsift.core.io import InputError, _read_csv_arrow, atomic_path, read_table, write_json

BAD = Path(__file__).parent / "data" / "bad"
BAD_TRANSACTIONS = Path(__file__).parent / "data" / "bad_transactions"


def test_atomic_write_leaves_nothing_behind_on_failure(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("killed")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_atomic_write_gives_ordinary_permissions(tmp_path):
    with atomic_path(tmp_path / "out.txt") as tmp:
        tmp.write_text("x")
    assert stat.S_IMODE((tmp_path / "out.txt").stat().st_mode) & 0o044 == 0o044


def test_json_is_sorted_rounded_and_strict(tmp_path):
    write_json(tmp_path / "m.json", {"b": 1 / 3, "a": float("nan"), "c": [float("inf")]})
    text = (tmp_path / "m.json").read_text()
    assert json.loads(text) == {"a": None, "b": 0.333333, "c": [None]}
    assert text.index('"a"') < text.index('"b"')


@pytest.mark.parametrize(
    ("content", "name", "message"),
    [
        (None, "absent.csv", "file not found; set `leads.raw_path`"),
        ("", "empty.csv", "file is empty"),
        ("a,b\n", "header.csv", "header only"),
        ("a,b\n1,2\n", "table.xlsx", "unsupported file type"),
    ],
)
def test_read_table_explains_unusable_files(tmp_path, content, name, message):
    path = tmp_path / name
    if content is not None:
        path.write_text(content)
    with pytest.raises(InputError, match=message) as err:
        read_table(path, "leads.raw_path")
    assert str(path) in str(err.value)


def test_read_table_reads_csv_with_text_columns_and_parquet(tmp_path):
    (tmp_path / "t.csv").write_text("id,n\n007,1\n")
    df = read_table(tmp_path / "t.csv", "k", text=["id", "absent"])
    assert df["id"].tolist() == ["007"] and df["n"].tolist() == [1]
    df.to_parquet(tmp_path / "t.parquet")
    pd.testing.assert_frame_equal(read_table(tmp_path / "t.parquet", "k"), df)


TRICKY = (
    "id,city,flag,mixed,count,price,when,blank,padded\n"
    '"007",Mumbai,1,True,3,1.5,2026-01-02,,  4\n'
    '008,"NA",0,1,,2.25e3,2026-01-03,, 5\n'
    '009,"multi\nline",1,0,7,inf,2026-01-04,,6\n'
    "010,None,0,False,-1,-0.0,not a date,,7\n"
    '011,"",1,1,2,nan,,,8\n'
)


def _utf8_tables() -> list[Path]:
    """The corpora's CSVs that pandas reads as UTF-8 tables of several columns with rows; the
    others are refused, or decoded as Latin-1, before the readers could differ (their errors and
    warnings are tested with the bad-input corpora)."""
    tables = []
    for path in sorted([*BAD.glob("*.csv"), *BAD_TRANSACTIONS.glob("*.csv")]):
        try:
            table = pd.read_csv(path, encoding="utf-8-sig")
        except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError):
            continue
        if len(table) and len(table.columns) > 1:
            tables.append(path)
    return tables


@pytest.mark.parametrize("path", [*_utf8_tables(), "tricky.csv"], ids=str)
def test_read_table_reads_every_csv_as_pandas_parser_does(tmp_path, path):
    """pyarrow reads the columns it reads as pandas would; anything else falls to pandas."""
    if path == "tricky.csv":
        path = tmp_path / path
        path.write_text(TRICKY)
    header = pd.read_csv(path, nrows=0, encoding="utf-8-sig").columns
    text = [c for c in ("id", "city", "lead_id", "customer_id") if c in header]
    expected = pd.read_csv(
        path, dtype=dict.fromkeys(text, "str"), encoding="utf-8-sig", low_memory=False
    )
    pd.testing.assert_frame_equal(read_table(path, "k", text=text), expected)
    if path.name == "tricky.csv":  # read by pyarrow, but for the columns it infers otherwise
        assert _read_csv_arrow(path, header, text) is not None


def test_line_breaks_in_quoted_values_survive_pyarrows_parallel_blocks(tmp_path):
    """pyarrow cuts a file of several megabytes into blocks read in parallel. Cut at every line
    break (the fast reading of a file without a quote), a quoted value holding one is split and
    pyarrow refuses the file, which pandas' parser, a few times slower, would then read alone."""
    rows = [f'{i},"line one\nline {i}",{i % 7}' for i in range(200_000)]
    path = tmp_path / "notes.csv"
    path.write_text("id,note,count\n" + "\n".join(rows) + "\n")
    header = pd.read_csv(path, nrows=0).columns
    assert _read_csv_arrow(path, header, ["id"]) is not None
    df = read_table(path, "k", text=["id"])
    assert len(df) == 200_000 and df["note"].iloc[-1] == "line one\nline 199999"
    pd.testing.assert_frame_equal(df, pd.read_csv(path, dtype={"id": "str"}))

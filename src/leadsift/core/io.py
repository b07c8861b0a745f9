"""File input and output shared by the stages: atomic, deterministic, and with clear errors.

Every writer goes through a temporary file in the target's directory followed by `os.replace`,
so a killed stage never leaves a half-written output that DVC could mistake for a result.
"""

from __future__ import annotations

import json
import logging
import math
import os
import tempfile
import time
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from pandas._libs.parsers import STR_NA_VALUES

log = logging.getLogger("leadsift.io")
_UMASK = os.umask(0)
os.umask(_UMASK)


class InputError(Exception):
    """A problem with the user's input or configuration, reported as one line without traceback."""


def first_few(items: Sequence[str], shown: int, sep: str = ", ") -> str:
    """`items` joined by `sep`, the first `shown` of them and a count of the rest, so that a
    message naming columns or problems stays one readable line."""
    more = f" and {len(items) - shown} more" if len(items) > shown else ""
    return sep.join(items[:shown]) + more


# Test hook: a write whose target path contains this text pauses before it is moved into place, so
# a test can kill the stage while an output is being written (tests/test_fault_safety_e2e.py).
PAUSE_WRITE = "LEADSIFT_PAUSE_WRITE"


@contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """Yield a temporary path next to `target`; move it onto `target` only if the block succeeds.

    A process killed mid-write (SIGKILL runs no cleanup) leaves only its temporary file, never a
    partial `target`; the next write of `target` removes such leftovers first.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    for leftover in target.parent.glob(f".{target.name}.*.tmp"):
        leftover.unlink(missing_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        if (pause := os.environ.get(PAUSE_WRITE)) and pause in str(target):
            print(f"leadsift: writing {target}", flush=True)
            time.sleep(600)
        os.chmod(tmp_path, 0o666 & ~_UMASK)  # mkstemp makes 0600 files; outputs are shared
        os.replace(tmp_path, target)
    finally:
        tmp_path.unlink(missing_ok=True)


def _write_atomic(target: str | Path, write: Callable[[Path], None]) -> None:
    with atomic_path(target) as tmp:
        write(tmp)


def write_text(path: str | Path, text: str) -> None:
    _write_atomic(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def _rounded(value: Any, digits: int, *, significant: bool = False) -> Any:
    """Round floats (to `digits` decimals, or significant digits) so that output is stable across
    platforms (CPUs differ in the last bits of vectorised maths) and readable in diffs."""
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return None
        return float(f"{value:.{digits}g}") if significant else round(value, digits)
    if isinstance(value, dict):
        return {str(k): _rounded(v, digits, significant=significant) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_rounded(v, digits, significant=significant) for v in value]
    if hasattr(value, "item"):  # numpy scalars
        return _rounded(value.item(), digits, significant=significant)
    return value


def write_json(path: str | Path, data: Any, digits: int = 6, *, sort_keys: bool = True) -> None:
    """Write JSON with rounded floats (NaN/inf become null) and sorted keys, unless the caller's
    order matters (it is then the code's order, as deterministic)."""
    text = json.dumps(_rounded(data, digits), indent=2, sort_keys=sort_keys, allow_nan=False)
    write_text(path, text + "\n")


def write_yaml(path: str | Path, data: Any) -> None:
    """Write YAML with sorted keys (and plain Python scalars, to 12 significant digits), for small
    human-read files."""
    write_text(path, yaml.safe_dump(_rounded(data, 12, significant=True), sort_keys=True))


def write_parquet(path: str | Path, df: pd.DataFrame) -> None:
    _write_atomic(path, lambda tmp: df.to_parquet(tmp, index=False, engine="pyarrow"))


def write_csv(path: str | Path, df: pd.DataFrame, float_format: str | None = None) -> None:
    _write_atomic(
        path,
        lambda tmp: df.to_csv(tmp, index=False, float_format=float_format, lineterminator="\n"),
    )


def read_yaml(path: str | Path) -> Any:
    """Read a YAML file with the rules DVC uses for params files (YAML 1.2, via ruamel.yaml).

    PyYAML follows YAML 1.1, where an unquoted `Yes` or `on` is a boolean; DVC reads the same
    line as the string "Yes". Reading params the way DVC does keeps the code, `dvc params diff`
    and `dvc exp show` in agreement about every value.
    """
    from ruamel.yaml import YAML  # noqa: PLC0415 - a stage reads params once
    from ruamel.yaml.error import YAMLError  # noqa: PLC0415

    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: file not found (run stages from the repository root)")
    try:
        return YAML(typ="safe").load(path.read_text(encoding="utf-8"))
    except YAMLError as err:
        raise InputError(f"{path}: not valid YAML ({str(err).splitlines()[0]})") from err


ENCODINGS = ("utf-8-sig", "latin-1")  # UTF-8 (a byte-order mark is dropped), then any byte
SEPARATORS = (";", "\t", "|")


def _read_csv(path: Path, text: Collection[str]) -> pd.DataFrame:
    """Read a comma-separated file as UTF-8, else as Latin-1 (which takes any byte), saying so;
    the columns named in `text` (those the file has) as text."""
    for encoding in ENCODINGS:
        try:
            header = pd.read_csv(path, nrows=0, encoding=encoding).columns
            if len(header) == 1 and (found := [s for s in SEPARATORS if s in header[0]]):
                raise InputError(
                    f"{path}: the header is a single column and looks {found[0]!r}-separated; "
                    "save the file comma-separated"
                )
            known = [c for c in text if c in header]
            df = _read_csv_arrow(path, header, known) if encoding == ENCODINGS[0] else None
            if df is None:
                df = pd.read_csv(
                    path, dtype=dict.fromkeys(known, "str"), encoding=encoding, low_memory=False
                )
        except UnicodeDecodeError:
            continue
        except pd.errors.EmptyDataError as err:
            raise InputError(f"{path}: no columns to read; is it a CSV with a header row?") from err
        except pd.errors.ParserError as err:
            detail = str(err).strip().splitlines()[-1]
            raise InputError(f"{path}: not a well-formed CSV ({detail})") from err
        if encoding != ENCODINGS[0]:
            log.warning(
                "%s is not valid UTF-8: read as %s; re-save it as UTF-8 if names look wrong",
                path,
                encoding,
            )
        df.attrs["encoding"] = "utf-8" if encoding == ENCODINGS[0] else encoding
        return df
    raise AssertionError("latin-1 decodes any byte")


def _holds_quote(path: Path, block_bytes: int = 1 << 24) -> bool:
    """Whether the file has a double quote anywhere (a scan at memory speed, block by block)."""
    with path.open("rb") as handle:
        return any(b'"' in block for block in iter(lambda: handle.read(block_bytes), b""))


def _read_csv_arrow(path: Path, header: pd.Index, text: list[str]) -> pd.DataFrame | None:
    """The frame pandas' parser reads from a UTF-8 CSV, with pyarrow's multi-threaded reader
    doing most of the work (about a third of the time on 1,000,000 leads); None where pandas
    should read the whole file.

    pyarrow reads the `text` columns, and the columns it finds are all 64-bit integers,
    as pandas does (the same missing values, the same numbers). Its inference differs elsewhere
    (`True` and `1` in one column are booleans to pyarrow, text to pandas; dates become dates; an
    integer too large for 64 bits makes a column floats to pyarrow, text to pandas), so every
    other column is read again by pandas' parser alone. A file pyarrow refuses
    (rows of the wrong length, bytes that are not UTF-8) or whose header pandas renames
    (duplicate or blank names) is left to pandas, with its error messages.
    """
    import pyarrow as pa  # noqa: PLC0415 - the reader only
    from pyarrow import csv  # noqa: PLC0415

    try:
        table = csv.read_csv(
            path,
            parse_options=csv.ParseOptions(newlines_in_values=_holds_quote(path)),
            convert_options=csv.ConvertOptions(
                column_types=dict.fromkeys(text, pa.string()),
                null_values=sorted(STR_NA_VALUES),
                strings_can_be_null=True,
            ),
        )
    except (pa.ArrowInvalid, UnicodeDecodeError):
        return None
    if table.column_names != list(header):
        return None
    again = [
        name
        for name, kind in zip(table.column_names, table.schema.types, strict=True)
        if name not in text and kind != pa.int64()
    ]
    # pandas 3's default text dtype is pyarrow's strings: handed over without a copy
    df = table.to_pandas(types_mapper={pa.string(): pd.StringDtype("pyarrow", np.nan)}.get)
    if again:
        reread = pd.read_csv(path, usecols=again, encoding="utf-8-sig", low_memory=False)
        df = df.assign(**{name: reread[name] for name in again})
    return df


def read_table(path: str | Path, key: str, text: Collection[str] = ()) -> pd.DataFrame:
    """Read a CSV or parquet table; `key` names the params entry that points at it, for errors.
    A CSV's columns named in `text` are read as text (ids keep their leading zeros), the others
    as pandas' parser types them; a parquet table carries its own types."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: file not found; set `{key}` in config.yaml to your data file")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: file is empty; `{key}` must point at a CSV or parquet table")
    suffix = path.suffix.lower()
    if suffix in {".parquet", ".pq"}:
        try:
            df = pd.read_parquet(path)
        except (OSError, ValueError) as err:  # pyarrow's ArrowInvalid is a ValueError
            raise InputError(f"{path}: cannot be read as parquet ({err})") from err
    elif suffix in {".csv", ".txt"}:
        df = _read_csv(path, text)
    else:
        raise InputError(
            f"{path}: unsupported file type {suffix!r}; `{key}` needs .csv or .parquet"
        )
    if df.empty:
        raise InputError(f"{path}: header only, no rows; `{key}` must point at data")
    return df


BATCH_SUFFIXES = (".csv", ".parquet")


def batch_files(directory: str | Path, key: str) -> list[Path]:
    """The batch files in `directory` (CSV or parquet; hidden files skipped), in name order,
    which is time order when batches are named by period (2026-01.csv, 2026-02.csv, ...)."""
    folder = Path(directory)
    if not folder.is_dir():
        raise InputError(f"{folder}: not a directory; set `{key}` to a directory of batch files")
    files = sorted(
        p for p in folder.iterdir() if p.suffix in BATCH_SUFFIXES and not p.name.startswith(".")
    )
    if not files:
        raise InputError(f"{folder}: no .csv or .parquet batch files; put batches there (`{key}`)")
    if len(stems := [p.stem for p in files]) != len(set(stems)):
        raise InputError(
            f"{folder}: two batches share a name (e.g. x.csv and x.parquet); rename one"
        )
    return files

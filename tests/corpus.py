"""What both bad-input corpora (tests/data/bad, tests/data/bad_transactions) share: each file has
an expectation, and a file that cannot be read at all fails with its expected one line."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from leadsift.core.io import InputError


def check_complete(folder: Path, expected: dict[str, Any], minimum: int) -> None:
    """At least `minimum` files, each with an expectation (`absent.csv` is expected, not there)."""
    files = {p.name for p in folder.iterdir() if p.name != "expected.yaml"}
    assert len(files) >= minimum
    assert files | {"absent.csv"} == set(expected)


def check_one_line_error(call: Callable[[], Any], expected: str) -> str:
    """`call` stops with one line holding `expected`; the line, for more checks."""
    with pytest.raises(InputError) as error:
        call()
    message = str(error.value)
    assert expected in message and "\n" not in message
    return message


def read_or_expected_error(read: Callable[[], Any], expectation: dict[str, Any]) -> Any:
    """The table `read` returns, or None when it stops with the file's expected error."""
    try:
        return read()
    except InputError as error:
        assert expectation["error"] in str(error)
        return None

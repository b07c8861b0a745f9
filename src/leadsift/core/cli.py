"""How stage scripts run: progress on stderr, and input problems as one line, not a traceback."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable

from leadsift.core.io import InputError

log = logging.getLogger("leadsift")


def run_stage(main: Callable[[], None]) -> None:
    """Run a stage's `main`; an `InputError` exits with status 2 and its message."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    try:
        main()
    except InputError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)

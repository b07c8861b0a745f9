"""A type a crafted model could hold: loading it runs code (it writes the marker file it names)."""

from __future__ import annotations

from pathlib import Path


class Payload:
    def __init__(self, marker: str = "") -> None:
        self.marker = marker

    def __setstate__(self, state: dict) -> None:
        Path(state["marker"]).write_text("ran")

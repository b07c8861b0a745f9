"""Run a stage script with numerics that give the same bytes on every x86-64 CPU with AVX2.

numpy's AVX-512 kernels for `exp` and `log` and OpenBLAS's AVX-512 (SkylakeX) matrix kernels
round differently in the last bit from their AVX2 counterparts, and a few outputs carry that
through (the generators' truths, the segments model, the forecast's fits). Both libraries choose
their kernels when they load, from the environment, so every stage in dvc.yaml starts here,
which sets it before anything imports numpy, then runs the script as `python script.py` would:

    PYTHONPATH=src python -m leadsift.core.launch stages/leads/generate.py data/raw/leads.csv ...

An ARM machine, or an x86-64 CPU without AVX2, keeps the libraries' own choice (forcing AVX2
kernels there would fail), and so does a variable already set in the environment. This module
imports nothing that loads numpy.
"""

from __future__ import annotations

import os
import platform
import runpy
import sys
from pathlib import Path

AVX2_KERNELS = {"NPY_DISABLE_CPU_FEATURES": "X86_V4", "OPENBLAS_CORETYPE": "Haswell"}


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> set[str]:
    """The CPU's feature flags as Linux lists them; none where there is no such file."""
    try:
        text = cpuinfo.read_text()
    except OSError:
        return set()
    for line in text.splitlines():
        if line.startswith("flags"):
            return set(line.partition(":")[2].split())
    return set()


def numerics_environment(machine: str, flags: set[str]) -> dict[str, str]:
    """The variables that pin numpy and OpenBLAS to their AVX2 kernels on an x86-64 CPU with
    AVX2 and FMA (what those kernels need); nothing elsewhere."""
    if machine.lower() in {"x86_64", "amd64"} and {"avx2", "fma"} <= flags:
        return dict(AVX2_KERNELS)
    return {}


def pin_numerics() -> None:
    """Choose the kernels (`numerics_environment`) for numpy and OpenBLAS, which read the choice
    when they load: call it before anything imports numpy. A variable already set is kept."""
    for name, value in numerics_environment(platform.machine(), cpu_flags()).items():
        os.environ.setdefault(name, value)


def main(argv: list[str]) -> None:
    """Pin the numerics, then run `argv[0]` with arguments `argv[1:]`."""
    if not argv:
        sys.exit("usage: python -m leadsift.core.launch <stage script> [arguments...]")
    pin_numerics()
    script = argv[0]
    sys.argv = list(argv)
    sys.path[0] = str(Path(script).resolve().parent)  # what `python script.py` puts first
    runpy.run_path(script, run_name="__main__")


if __name__ == "__main__":
    main(sys.argv[1:])

"""Stages start through `leadsift.core.launch`: AVX2 kernels on x86-64 CPUs that have them, so
outputs are the same bytes with and without AVX-512, and the script runs as `python script.py`."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from pathlib import Path

from leadsift.core import launch

ROOT = Path(__file__).resolve().parents[1]

SCRIPT = """
import json, math, sys
import numpy as np
from threadpoolctl import threadpool_info
x = np.random.default_rng(0).normal(size=20_000)
blas = {i.get("architecture") for i in threadpool_info() if i["internal_api"] == "openblas"}
print(json.dumps({
    "name": __name__, "argv": sys.argv, "path0": sys.path[0],
    "exp_is_libm": bool((np.exp(x) == np.array([math.exp(v) for v in x])).all()),
    "blas": sorted(blas),
    "coretype": __import__("os").environ.get("OPENBLAS_CORETYPE"),
}))
"""


def run_launched(tmp_path: Path, env: dict[str, str]) -> dict:
    script = tmp_path / "stage.py"
    script.write_text(SCRIPT)
    done = subprocess.run(
        [sys.executable, "-m", "leadsift.core.launch", str(script), "in.csv", "--flag"],
        cwd=tmp_path, env={**env, "PYTHONPATH": str(ROOT / "src")},
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return json.loads(done.stdout)


def test_avx2_kernels_only_on_x86_64_cpus_with_avx2_and_fma():
    assert launch.numerics_environment("x86_64", {"sse2", "avx2", "fma", "avx512f"}) == {
        "NPY_DISABLE_CPU_FEATURES": "X86_V4",
        "OPENBLAS_CORETYPE": "Haswell",
    }
    assert launch.numerics_environment("AMD64", {"avx2", "fma"})
    assert launch.numerics_environment("x86_64", {"sse2", "avx"}) == {}  # would not run there
    assert launch.numerics_environment("aarch64", {"asimd", "avx2", "fma"}) == {}


def test_cpu_flags_are_read_from_the_cpuinfo_file(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nmodel name\t: A CPU\nflags\t\t: fpu sse2 avx2 fma\n\n")
    assert launch.cpu_flags(cpuinfo) == {"fpu", "sse2", "avx2", "fma"}
    assert launch.cpu_flags(tmp_path / "absent") == set()


def test_a_launched_script_runs_as_itself_with_the_avx2_kernels(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in launch.AVX2_KERNELS}
    seen = run_launched(tmp_path, env)
    assert seen["name"] == "__main__"
    assert seen["argv"] == [str(tmp_path / "stage.py"), "in.csv", "--flag"]
    assert seen["path0"] == str(tmp_path)
    if launch.numerics_environment(platform.machine(), launch.cpu_flags()):
        # numpy's AVX2 exp is libm's; its AVX-512 one differs in the last bit on about 5%
        assert seen["exp_is_libm"]
        assert seen["blas"] == ["Haswell"]


def test_a_kernel_choice_already_in_the_environment_is_kept(tmp_path):
    env = {**os.environ, "OPENBLAS_CORETYPE": "Sandybridge"}
    assert run_launched(tmp_path, env)["coretype"] == "Sandybridge"

"""The scoring server started the way `make serve` starts it, for end-to-end tests."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def post(url: str, body: object, timeout: float = 30) -> tuple[int, dict]:
    request = urllib.request.Request(
        url, json.dumps(body).encode(), {"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def wait_until_up(
    url: str, process: subprocess.Popen, output: Callable[[], str], deadline_s: float
) -> None:
    """Until `url` answers 200; fails with the end of the server's `output` if it exits first, and
    if it stays silent past `deadline_s` seconds."""
    deadline = time.monotonic() + deadline_s
    while True:
        if process.poll() is not None:
            raise AssertionError(f"server exited ({process.returncode}): {output()[-2000:]}")
        if time.monotonic() > deadline:
            raise AssertionError(f"{url} did not answer within {deadline_s:.0f} s")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)


@contextmanager
def serving(cwd: Path, *args: str, env: dict[str, str], deadline_s: float = 120) -> Iterator[str]:
    """`python -m leadsift.serve ARGS` in `cwd`; yields its base URL once /ping answers 200."""
    with server_process(cwd, *args, env=env, deadline_s=deadline_s) as (base, _):
        yield base


@contextmanager
def server_process(
    cwd: Path, *args: str, env: dict[str, str], deadline_s: float = 120
) -> Iterator[tuple[str, subprocess.Popen]]:
    """`serving`, yielding the server's process too (to kill it)."""
    port = free_port()
    env = {**env, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"}
    process = subprocess.Popen(
        [sys.executable, "-m", "leadsift.serve", *args, "--port", str(port)],
        cwd=cwd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        output = lambda: process.stderr.read().decode()  # noqa: E731 - read only if it exited
        wait_until_up(f"{base}/ping", process, output, deadline_s=deadline_s)
        yield base, process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)  # stop it, and its workers, by its PID
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()

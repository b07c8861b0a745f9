"""A real PostgreSQL server for tests, from the machine's installed binaries, in a temporary folder:
initdb, then pg_ctl on a free loopback port. PostgreSQL refuses to run as root, so as root the
server runs as the `postgres` user."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.server import free_port


def _binaries() -> Path:
    """LEADSIFT_POSTGRES_BIN, or the newest /usr/lib/postgresql/<version>/bin."""
    if given := os.environ.get("LEADSIFT_POSTGRES_BIN"):
        return Path(given)
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name))
    return found[-1] if found else Path("/usr/lib/postgresql/15/bin")


BIN = _binaries()


def _as_server_user(command: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return command
    return ["runuser", "-u", "postgres", "--", *command]


@contextmanager
def postgres_server(max_connections: int = 20) -> Iterator[str]:
    """A running server whose database `leadsift` the yielded SQLAlchemy URL names, in a folder
    of its own under the system's temporary one (one the server's user can reach)."""
    if not (BIN / "initdb").exists():
        raise RuntimeError(f"no PostgreSQL binaries in {BIN}: set LEADSIFT_POSTGRES_BIN")
    folder = Path(tempfile.mkdtemp(prefix="leadsift-postgres-"))
    data, sockets = folder / "data", folder / "sockets"
    for path in (data, sockets):
        path.mkdir(parents=True)
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        for path in (folder, data, sockets):
            os.chown(path, user.pw_uid, user.pw_gid)
    port = free_port()

    def run(*command: str) -> None:
        done = subprocess.run(
            _as_server_user(list(command)), check=False, capture_output=True, text=True
        )
        if done.returncode:
            raise RuntimeError(f"{' '.join(command)} failed: {done.stderr[-2000:]}")

    try:
        run(str(BIN / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync")
    except RuntimeError:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    options = (
        f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 "
        f"-c max_connections={max_connections} -c fsync=off"
    )
    run(
        str(BIN / "pg_ctl"),
        "-D",
        str(data),
        "-o",
        options,
        "-l",
        str(folder / "log"),
        "-w",
        "start",
    )
    try:
        run(str(BIN / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "leadsift")
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/leadsift"
    finally:
        run(str(BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(folder, ignore_errors=True)

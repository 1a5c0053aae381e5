"""A throwaway PostgreSQL server for the tests: Debian's binaries, a temporary cluster on
a free loopback port, started once per test session and removed after.

- ``DIALER_TEST_PG_URL`` set: use that server instead (e.g. a developer's own);
- ``DIALER_TEST_PG=skip`` set: PostgreSQL tests are skipped (local development only; CI
  never sets it, so there a server that cannot start fails the tests loudly);
- otherwise: ``initdb`` + ``pg_ctl start`` from ``/usr/lib/postgresql/<newest>/bin`` (the
  Makefile installs the ``postgresql`` package when it is missing). As root the server
  runs as the ``postgres`` user (PostgreSQL refuses to run as root), through ``runuser``.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

URL_ENV = "DIALER_TEST_PG_URL"
SKIP_ENV = "DIALER_TEST_PG"


class PgUnavailableError(RuntimeError):
    pass


def bin_dir() -> Path:
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    if found:
        return found[-1].parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).parent
    raise PgUnavailableError(
        "PostgreSQL binaries not found (no /usr/lib/postgresql/*/bin/initdb): run "
        "`apt-get install -y postgresql` (make test does it), or set "
        f"{URL_ENV}=postgresql://... to use a server, or {SKIP_ENV}=skip to skip"
    )


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_postgres(cmd: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return cmd
    return ["runuser", "-u", "postgres", "--", *cmd]


@contextmanager
def throwaway_server() -> Iterator[str]:
    """Yield a superuser URL (``postgresql+asyncpg://postgres@127.0.0.1:PORT/postgres``)."""
    bindir = bin_dir()
    root = Path(tempfile.mkdtemp(prefix="dialer-pg-"))
    data, log = root / "data", root / "server.log"
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    port = free_port()

    def run(cmd: list[str]) -> None:
        done = subprocess.run(_as_postgres(cmd), capture_output=True, text=True, check=False)
        if done.returncode != 0:
            tail = log.read_text()[-2000:] if log.exists() else ""
            raise PgUnavailableError(f"{' '.join(cmd)} failed:\n{done.stdout}{done.stderr}{tail}")

    try:
        run([str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres",
             "-E", "UTF8", "--no-sync", "--locale=C"])  # fmt: skip
        opts = (
            f"-c listen_addresses=127.0.0.1 -p {port} -k {root} -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        run([str(bindir / "pg_ctl"), "-D", str(data), "-o", opts, "-l", str(log), "-w",
             "-t", "60", "start"])  # fmt: skip
        try:
            yield f"postgresql+asyncpg://postgres@127.0.0.1:{port}/postgres"
        finally:
            subprocess.run(
                _as_postgres(
                    [str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"]
                ),
                capture_output=True,
                check=False,
            )
    finally:
        shutil.rmtree(root, ignore_errors=True)

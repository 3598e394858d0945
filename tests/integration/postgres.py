"""A throwaway PostgreSQL cluster from Debian's postgresql package, on loopback."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from service.demo.servers import free_port


def postgres_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


@contextmanager
def postgres_cluster() -> Iterator[str]:
    """Yield a SQLAlchemy URL; skips when PostgreSQL is absent, unless CI is set (then fails)."""
    bindir = postgres_bin()
    if bindir is None:
        if os.environ.get("CI"):
            pytest.fail(
                "PostgreSQL binaries are missing (/usr/lib/postgresql/*/bin); CI needs them"
            )
        pytest.skip("PostgreSQL is not installed (run `make system-deps`)")
    # Not under pytest's tmp dir: the postgres user must be able to reach it.
    root = Path(tempfile.mkdtemp(prefix="relapse-pg-"))
    data = root / "data"
    port = free_port()
    as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    if as_postgres:
        shutil.chown(root, "postgres", "postgres")
    subprocess.run(
        [*as_postgres, str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"],
        check=True,
        capture_output=True,
    )
    pg_ctl = [*as_postgres, str(bindir / "pg_ctl"), "-D", str(data)]
    subprocess.run(
        [
            *pg_ctl,
            "-w",
            "-l",
            str(root / "log"),
            "-o",
            f"-p {port} -k {root} -h 127.0.0.1",
            "start",
        ],
        check=True,
        capture_output=True,
    )
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*pg_ctl, "-w", "-m", "fast", "stop"], check=False, capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


@contextmanager
def database_of(kind: str, directory: Path) -> Iterator[str]:
    """A SQLAlchemy URL: "sqlite" (a file in `directory`) or "postgresql" (a fresh cluster)."""
    if kind == "sqlite":
        yield f"sqlite:///{directory / 'db.sqlite3'}"
        return
    with postgres_cluster() as url:
        yield url

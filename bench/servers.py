"""The service under gunicorn in a subprocess, as `relapse-cds serve` runs it, on loopback."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from service.demo.servers import free_port, subprocess_server
from service.server import THREADS, WORKER_CLASS

BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class Served:
    url: str
    process: subprocess.Popen[bytes]

    def worker_pids(self) -> list[int]:
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(pid) for pid in children.read_text().split()]

    def worker_rss_kib(self) -> dict[int, int]:
        return {pid: rss_kib(pid) for pid in self.worker_pids()}


def booted(served: Served, workers: int) -> bool:
    """Every worker forked and asleep (state S in /proc/PID/stat): waiting for connections, not
    still starting; the service's workers warm up before they accept (service.warmup)."""
    pids = served.worker_pids()
    try:
        states = [
            Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] for pid in pids
        ]
    except FileNotFoundError:
        return False  # a worker exited: the probe tries again
    return len(pids) >= workers and all(state == "S" for state in states)


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for process {pid}")


def service_env(database_url: str, **settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RELAPSE_CDS_")}
    env.update(
        RELAPSE_CDS_AUTH="none",
        RELAPSE_CDS_DATABASE_URL=database_url,
        **{f"RELAPSE_CDS_{k.upper()}": v for k, v in settings.items()},
    )
    return env


@contextmanager
def relapse_cds_serve(
    env: Mapping[str, str], *, workers: int = 2, log: Path | None = None
) -> Iterator[Served]:
    """`relapse-cds serve` itself."""
    port = free_port()
    argv = [str(BIN / "relapse-cds"), "serve", "--host", "127.0.0.1", "--port", str(port)]
    with _served([*argv, "--workers", str(workers)], port, workers, env, log) as served:
        yield served


@contextmanager
def gunicorn_app(
    factory: str,
    env: Mapping[str, str],
    *,
    workers: int = 2,
    log: Path | None = None,
    worker_class: str = WORKER_CLASS,
    threads: int = THREADS,
    gunicorn: Path = BIN / "gunicorn",
    probe: str = "/cds-services",
) -> Iterator[Served]:
    """gunicorn with the options `relapse-cds serve` uses, on an app factory ("mod:fn()")."""
    port = free_port()
    argv = [
        str(gunicorn),
        "--preload",
        "--workers",
        str(workers),
        "--worker-class",
        worker_class,
        "--threads",
        str(threads),
        "--no-control-socket",
        "--bind",
        f"127.0.0.1:{port}",
        "--timeout",
        "30",
        factory,
    ]
    with _served(argv, port, workers, env, log, probe=probe) as served:
        yield served


@contextmanager
def _served(
    argv: list[str],
    port: int,
    workers: int,
    env: Mapping[str, str],
    log: Path | None,
    *,
    probe: str = "/cds-services",
) -> Iterator[Served]:
    url = f"http://127.0.0.1:{port}"
    with ExitStack() as stack:
        out = stack.enter_context(log.open("ab")) if log else subprocess.DEVNULL
        # Ready when it answers and every worker has booted (one answers before the other).
        process = stack.enter_context(
            subprocess_server(
                argv,
                probe=f"{url}{probe}",
                log=out,
                env=env,
                ready=lambda proc: booted(Served(url, proc), workers),
            )
        )
        yield Served(url, process)

"""`python -m bench`: latency ratios against a floor route, scale, fetch path, cold start, CLI.

Every timing is compared with others from the same run on the same machine, so the table reads
as ratios. Prints a markdown table, then the profile of the hot path.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import statistics
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import requests

from bench.data import AS_OF, collection, hook_body, prefetch_of, synthetic_record
from bench.servers import BIN, Served, gunicorn_app, service_env
from service.demo.servers import sekmet_server, wsgi_server

HOOK = "/cds-services/relapsed-all-risk"
FLOOR = "/bench/floor"
SAMPLES = 300
SCALE_SAMPLES = 60
COLD_STARTS = 3
CLI_BUNDLES = 1000
CLI_LIMIT_BUNDLES = 300
FHIR_DELAY = 0.100
TIMEOUT = (3.05, 30.0)


@dataclass(frozen=True)
class Row:
    measure: str
    value: str
    target: str
    met: bool | None  # None: informational


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def timed_posts(
    session: requests.Session, url: str, body: Callable[[], Any], n: int
) -> list[float]:
    """Wall times (ms) of `n` POSTs, each checked to be a 200 with cards."""
    times = []
    for _ in range(n):
        payload = body()
        started = time.perf_counter()
        response = session.post(url, json=payload, timeout=TIMEOUT)
        times.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200 or not response.json()["cards"]:
            raise RuntimeError(f"{url} answered {response.status_code}: {response.text[:300]}")
    return times


def machine() -> str:
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor() or "unknown CPU",
    )
    return (
        f"{os.cpu_count()} CPUs ({model}), Python {platform.python_version()}, {platform.system()}"
    )


@contextmanager
def bench_server(tmp: Path) -> Iterator[Served]:
    env = service_env(f"sqlite:///{tmp / 'bench.sqlite3'}")
    with gunicorn_app("bench.app:build()", env, log=tmp / "gunicorn.log") as served:
        yield served


def latency(served: Served, session: requests.Session) -> tuple[list[Row], float]:
    prefetch = prefetch_of(synthetic_record(20))
    body = lambda: hook_body("bench-1", prefetch)  # noqa: E731
    # Warm both workers before measuring.
    timed_posts(session, served.url + HOOK, body, 20)
    floor = timed_posts(session, served.url + FLOOR, body, SAMPLES)
    hook = timed_posts(session, served.url + HOOK, body, SAMPLES)
    f50, f99, h50, h99 = (
        percentile(floor, 0.5),
        percentile(floor, 0.99),
        percentile(hook, 0.5),
        percentile(hook, 0.99),
    )
    rows = [
        Row("floor (fixed card), p50 / p99", f"{f50:.2f} / {f99:.2f} ms", "reference", None),
        Row(
            "patient-view, 20-resource prefetch, p50 / p99",
            f"{h50:.2f} / {h99:.2f} ms ({h50 / f50:.1f}× / {h99 / f99:.1f}× floor)",
            "p50 ≤ 4× floor",
            h50 <= 4 * f50,
        ),
    ]
    return rows, f50


def scale(served: Served, session: requests.Session) -> list[Row]:
    medians = {}
    for size in (20, 200, 1000):
        prefetch = prefetch_of(synthetic_record(size))
        times = timed_posts(
            session, served.url + HOOK, partial(hook_body, "bench-1", prefetch), SCALE_SAMPLES
        )
        medians[size] = percentile(times, 0.5)
    slope = (medians[1000] - medians[20]) / 980
    shown = ", ".join(f"{n}: {ms:.1f} ms" for n, ms in medians.items())
    return [
        Row(
            f"scale, p50 by prefetch size ({shown})",
            f"{slope:.3f} ms per extra resource",
            "≤ 0.25 ms",
            slope <= 0.25,
        )
    ]


def fetch_path(served: Served, session: requests.Session, tmp: Path, floor: float) -> list[Row]:
    sekmet = os.environ.get("SEKMET_BIN")
    if not sekmet or not Path(sekmet).exists():
        return [Row("fetch path via FHIR server + 100 ms", "skipped: SEKMET_BIN not set", "", None)]
    from tests.integration.faulty_fhir import Fault, FaultyFhir

    record = synthetic_record(20)
    with sekmet_server(Path(sekmet), tmp / "sekmet") as base:
        for resource in record:
            requests.put(
                f"{base}/{resource['resourceType']}/{resource['id']}",
                json=resource,
                headers={"Content-Type": "application/fhir+json"},
                timeout=TIMEOUT,
            ).raise_for_status()
        proxy = FaultyFhir(base)
        with wsgi_server(proxy) as proxy_url:
            body = lambda: hook_body("bench-1", None, fhirServer=f"{proxy_url}/fhir")  # noqa: E731
            timed_posts(session, served.url + HOOK, body, 5)
            direct = percentile(timed_posts(session, served.url + HOOK, body, 40), 0.5)
            proxy.fault = Fault(delay=FHIR_DELAY)
            delayed = percentile(timed_posts(session, served.url + HOOK, body, 40), 0.5)
    bound = 1.5 * FHIR_DELAY * 1000 + floor
    return [
        Row("fetch path, no prefetch, FHIR answering at once, p50", f"{direct:.1f} ms", "", None),
        Row(
            "fetch path, no prefetch, FHIR +100 ms per answer, p50",
            f"{delayed:.1f} ms",
            f"≤ 1.5 × 100 ms + floor = {bound:.1f} ms",
            delayed <= bound,
        ),
    ]


def cold_start(tmp: Path) -> list[Row]:
    prefetch = prefetch_of(synthetic_record(20))
    ratios = []
    for i in range(COLD_STARTS):
        env = service_env(f"sqlite:///{tmp / f'cold{i}.sqlite3'}")
        with gunicorn_app("bench.app:build()", env) as served, requests.Session() as session:
            url = served.url + HOOK
            # One request per worker: either may take the first one.
            first = timed_posts(session, url, lambda: hook_body("bench-1", prefetch), 2)
            warm = timed_posts(session, url, lambda: hook_body("bench-1", prefetch), 40)
            ratios.append(max(first) / percentile(warm, 0.5))
    ratio = statistics.median(ratios)
    return [Row("cold start: first request / warm p50", f"{ratio:.2f}×", "≤ 2×", ratio <= 2)]


def cli(tmp: Path) -> list[Row]:
    folder = tmp / "bundles"
    folder.mkdir()
    paths = []
    for i in range(CLI_BUNDLES):
        path = folder / f"b{i:04d}.json"
        path.write_text(json.dumps(collection(synthetic_record(20, patient=f"p{i}"))))
        paths.append(str(path))
    argv = [str(BIN / "relapse-cds"), "assess", "--as-of", AS_OF.isoformat()]

    def run(chosen: list[str]) -> float:
        started = time.perf_counter()
        done = subprocess.run([*argv, *chosen], capture_output=True, check=True)
        elapsed = time.perf_counter() - started
        if done.stdout.count(b"\n") != len(chosen) or b'"error"' in done.stdout:
            raise RuntimeError("relapse-cds assess did not assess every bundle")
        return elapsed

    full = run(paths)
    part = run(paths[:CLI_LIMIT_BUNDLES])
    return [
        Row(
            f"`relapse-cds assess`, {CLI_BUNDLES} bundles of 20 resources",
            f"{CLI_BUNDLES / full:.0f} bundles/s ({full:.1f} s, start-up included)",
            "reported",
            None,
        ),
        Row(
            f"`relapse-cds assess`, {CLI_LIMIT_BUNDLES} bundles",
            f"{part:.1f} s",
            "< 20 s",
            part < 20,
        ),
    ]


def profile() -> str:
    """Self time of the hot path (in-process patient-view, 20 resources), by function."""
    from pyinstrument import Profiler

    from service.app import create_app
    from service.settings import Settings

    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(Settings(auth="none", database_url=f"sqlite:///{tmp}/p.sqlite3"))
        client = app.test_client()
        body = hook_body("bench-1", prefetch_of(synthetic_record(20)))
        client.post(HOOK, json=body)
        profiler = Profiler(interval=0.0005)
        profiler.start()
        for _ in range(200):
            client.post(HOOK, json=body)
        profiler.stop()
    costs: Counter[str] = Counter()
    modules: Counter[str] = Counter()

    def walk(frame: Any) -> None:
        if not frame.is_synthetic:
            path = frame.file_path_short or "?"
            costs[f"{frame.function} ({path}:{frame.line_no})"] += frame.total_self_time
            top = path.replace("\\", "/").split("/")[0].removesuffix(".py")
            modules[top] += frame.total_self_time
        for child in frame.children:
            walk(child)

    root = profiler.last_session.root_frame() if profiler.last_session else None
    if root is None:
        return "no samples"
    walk(root)
    total = sum(costs.values()) or 1.0
    lines = ["Self time by package:"]
    lines += [f"  {name}: {100 * t / total:.0f} %" for name, t in modules.most_common(8)]
    lines.append("Self time by function:")
    lines += [f"  {name}: {100 * t / total:.1f} %" for name, t in costs.most_common(12)]
    return "\n".join(lines)


def table(rows: list[Row]) -> str:
    out = ["| measure | result | target | met |", "|---|---|---|---|"]
    for row in rows:
        met = "" if row.met is None else ("yes" if row.met else "**no**")
        out.append(f"| {row.measure} | {row.value} | {row.target} | {met} |")
    return "\n".join(out)


def main() -> int:
    # The in-process FHIR proxy's access log would drown the table.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="relapse-bench-") as name:
        tmp = Path(name)
        with bench_server(tmp) as served, requests.Session() as session:
            latency_rows, floor = latency(served, session)
            rows += latency_rows
            rows += scale(served, session)
            rows += fetch_path(served, session, tmp, floor)
        rows += cold_start(tmp)
        rows += cli(tmp)
    print(f"Machine: {machine()}. gunicorn, 2 sync workers, auth none, loopback HTTP.\n")
    print(table(rows))
    print()
    print(profile())
    return 0 if all(row.met is not False for row in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())

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
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import count
from pathlib import Path
from typing import Any

import requests

from bench.data import (
    AS_OF,
    collection,
    hook_body,
    order_sign_body,
    prefetch_of,
    routine_labs,
    synthetic_record,
)
from bench.servers import BIN, Served, gunicorn_app, service_env
from service.cards import ASSESSMENT_EXTENSION
from service.demo.servers import sekmet_server, wsgi_server
from service.server import WORKER_CLASS

HOOK = "/cds-services/relapsed-all-risk"
ORDER_HOOK = "/cds-services/reinduction-idarubicin-check"
FLOOR = "/bench/floor"
SAMPLES = 300
SCALE_SAMPLES = 60
COLD_STARTS = 3
CLI_BUNDLES = 1000
CLI_LIMIT_BUNDLES = 300
FHIR_DELAY = 0.100
TIMEOUT = (3.05, 30.0)
JSON_HEADERS = {"Content-Type": "application/json"}
ROUTINE = 2000
ROUTINE_SAMPLES = 40
BIG = 10_000
BIG_SAMPLES = 10
HC_FIXED = "/fixed/cds-services/bench"
HC_VALIDATING = "/validating/cds-services/bench"


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
        # Encoded before the clock starts: the client's JSON encoding is not the service's time.
        payload = json.dumps(body()).encode()
        started = time.perf_counter()
        response = session.post(url, data=payload, headers=JSON_HEADERS, timeout=TIMEOUT)
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


def interleaved(
    session: requests.Session,
    calls: dict[str, tuple[str, Callable[[], Any]]],
    n: int,
    *,
    new_connections: bool = False,
) -> dict[str, list[float]]:
    """`n` rounds of one call to each (url, body): what is compared shares the same moments of
    a shared machine. With `new_connections`, each call opens its own connection: a call that
    waits about as long as gunicorn's keep-alive (2 s) for another one may otherwise send its
    request just as gunicorn closes the idle connection (gthread does not check for data
    waiting), and is never answered."""
    times: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(n):
        for name, (url, body) in calls.items():
            if new_connections:
                session.close()  # the session stays usable: its next call connects anew
            times[name] += timed_posts(session, url, body, 1)
    return times


def p50_p99(times: list[float], floor: float) -> str:
    h50, h99 = percentile(times, 0.5), percentile(times, 0.99)
    return f"{h50:.2f} / {h99:.2f} ms ({h50 / floor:.1f}× floor)"


def first_view(size: int) -> Callable[[], Any]:
    """Bodies of a record never sent before (a new patient each call): nothing is remembered."""
    seen = count()

    def body() -> dict[str, Any]:
        patient = f"first-{next(seen)}"
        return hook_body(patient, prefetch_of(synthetic_record(size, patient=patient)))

    return body


def latency(
    served: Served, healthchain: Served | None, session: requests.Session
) -> tuple[list[Row], float]:
    prefetch = prefetch_of(synthetic_record(20))
    body = lambda: hook_body("bench-1", prefetch)  # noqa: E731
    calls = {
        "floor": (served.url + FLOOR, body),
        "hook": (served.url + HOOK, body),
        "first": (served.url + HOOK, first_view(20)),
        "order": (served.url + ORDER_HOOK, order_sign_body),
    }
    if healthchain is not None:
        calls["hc fixed"] = (healthchain.url + HC_FIXED, body)
        calls["hc validating"] = (healthchain.url + HC_VALIDATING, body)
    interleaved(session, calls, 20)  # every worker warm before measuring
    times = interleaved(session, calls, SAMPLES)
    floor = times["floor"]
    f50, f99 = percentile(floor, 0.5), percentile(floor, 0.99)
    h50 = percentile(times["hook"], 0.5)
    rows = [
        Row("floor (fixed card), p50 / p99", f"{f50:.2f} / {f99:.2f} ms", "reference", None),
        Row(
            "patient-view, 20-resource prefetch, p50 / p99",
            p50_p99(times["hook"], f50),
            "p50 ≤ 2.5× floor",
            h50 <= 2.5 * f50,
        ),
        Row(
            "patient-view, 20-resource prefetch never seen before (first view), p50 / p99",
            p50_p99(times["first"], f50),
            "",
            None,
        ),
        Row(
            "order-sign (idarubicin draft, demo record prefetched), p50 / p99",
            p50_p99(times["order"], f50),
            "p50 ≤ 2× patient-view p50",
            percentile(times["order"], 0.5) <= 2 * h50,
        ),
    ]
    if healthchain is not None:
        rows += [
            Row(
                "HealthChain, fixed card, p50 / p99",
                p50_p99(times["hc fixed"], f50),
                "beside ours",
                None,
            ),
            Row(
                "HealthChain, prefetch into its FHIR models, p50 / p99",
                p50_p99(times["hc validating"], f50),
                "beside ours",
                None,
            ),
        ]
    return rows, f50


def routine(served: Served, healthchain: Served | None, session: requests.Session) -> list[Row]:
    """The cost of resources that cannot change the answer: 2,000 routine labs more."""
    record = synthetic_record(20)
    small = prefetch_of(record)
    large = prefetch_of(record + routine_labs(ROUTINE))
    calls: dict[str, tuple[str, Callable[[], Any]]] = {
        "without": (served.url + HOOK, lambda: hook_body("bench-1", small)),
        "with": (served.url + HOOK, lambda: hook_body("bench-1", large)),
    }
    if healthchain is not None:
        calls["hc without"] = (healthchain.url + HC_VALIDATING, lambda: hook_body("b", small))
        calls["hc with"] = (healthchain.url + HC_VALIDATING, lambda: hook_body("b", large))
    same_answer(served, session, small, large, ROUTINE)
    times = interleaved(session, calls, ROUTINE_SAMPLES)
    without, with_ = percentile(times["without"], 0.5), percentile(times["with"], 0.5)
    each = (with_ - without) / ROUTINE
    rows = [
        Row(
            f"{ROUTINE:,} routine labs more (not read, counted as ignored), p50 "
            f"{with_:.1f} against {without:.1f} ms",
            f"{1000 * each:.1f} µs per extra resource",
            "≤ 30 µs",
            each <= 0.03,
        )
    ]
    if healthchain is not None:
        hc_each = (
            percentile(times["hc with"], 0.5) - percentile(times["hc without"], 0.5)
        ) / ROUTINE
        rows.append(
            Row(
                f"HealthChain, the same {ROUTINE:,} labs into its FHIR models",
                f"{1000 * hc_each:.1f} µs per extra resource",
                "beside ours",
                None,
            )
        )
    return rows


def same_answer(
    served: Served,
    session: requests.Session,
    small: dict[str, Any],
    large: dict[str, Any],
    extra: int,
) -> None:
    """Guards the routine-lab rows: the labs change nothing but the count of the ignored."""

    def assessment(prefetch: dict[str, Any]) -> dict[str, Any]:
        response = session.post(
            served.url + HOOK, json=hook_body("bench-1", prefetch), timeout=TIMEOUT
        )
        response.raise_for_status()
        found: dict[str, Any] = response.json()["cards"][0]["extension"][ASSESSMENT_EXTENSION]
        return found

    before, after = assessment(small), assessment(large)
    if after.pop("ignored") - before.pop("ignored") != extra or before != after:
        raise RuntimeError("the routine labs changed the assessment")


def scale(served: Served, session: requests.Session) -> list[Row]:
    """The cost of each mapped resource (MRD results: validated, read, listed in the series),
    each call on a record never sent before (nothing remembered)."""
    sizes = (20, 200, 1000)
    calls = {str(n): (served.url + HOOK, first_view(n)) for n in sizes}
    times = interleaved(session, calls, SCALE_SAMPLES)
    medians = {n: percentile(times[str(n)], 0.5) for n in sizes}
    slope = (medians[1000] - medians[20]) / 980
    shown = ", ".join(f"{n}: {ms:.1f} ms" for n, ms in medians.items())
    return [
        Row(
            f"mapped resources, first view, p50 by prefetch size ({shown})",
            f"{slope:.3f} ms per extra resource",
            "≤ 0.2 ms",
            slope <= 0.2,
        )
    ]


def big(served: Served, healthchain: Served | None, session: requests.Session) -> list[Row]:
    """A 10,000-resource prefetch: the 20-resource record and 9,980 routine labs."""
    prefetch = prefetch_of(synthetic_record(20) + routine_labs(BIG - 20))
    size = len(json.dumps(hook_body("bench-1", prefetch))) / 1e6
    calls: dict[str, tuple[str, Callable[[], Any]]] = {
        "ours": (served.url + HOOK, lambda: hook_body("bench-1", prefetch))
    }
    if healthchain is not None:
        calls["hc"] = (healthchain.url + HC_VALIDATING, lambda: hook_body("bench-1", prefetch))
    # HealthChain's call takes about 2 s here: see `interleaved`.
    times = interleaved(session, calls, BIG_SAMPLES, new_connections=True)
    ours = times["ours"]
    p50 = percentile(ours, 0.5)
    rows = [
        Row(
            f"{BIG:,}-resource prefetch ({size:.1f} MB, routine labs but 20), p50 / slowest of "
            f"{BIG_SAMPLES}",
            f"{p50:.0f} / {max(ours):.0f} ms",
            "p50 ≤ 1 s",
            p50 <= 1000,
        )
    ]
    if healthchain is not None:
        hc = times["hc"]
        rows.append(
            Row(
                "HealthChain, the same prefetch into its FHIR models, p50 / slowest",
                f"{percentile(hc, 0.5):.0f} / {max(hc):.0f} ms",
                "beside ours",
                None,
            )
        )
    return rows


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
    """A worker's first request against its next ones, each on a record it never saw (so that
    only the start-up differs: a record seen again is not validated again)."""
    ratios = []
    for i in range(COLD_STARTS):
        env = service_env(f"sqlite:///{tmp / f'cold{i}.sqlite3'}")
        with gunicorn_app("bench.app:build()", env) as served, requests.Session() as session:
            url = served.url + HOOK
            # One request per worker: either may take the first one.
            bodies = first_view(20)
            first = timed_posts(session, url, bodies, 2)
            warm = timed_posts(session, url, bodies, 40)
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


def profile(resources: list[dict[str, Any]], calls: int) -> str:
    """Self time of the hot path (in-process patient-view on `resources`), by function."""
    from pyinstrument import Profiler

    from service.app import create_app
    from service.settings import Settings

    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(Settings(auth="none", database_url=f"sqlite:///{tmp}/p.sqlite3"))
        client = app.test_client()
        # Encoded once: the test client's encoding is not the service's time.
        body = json.dumps(hook_body("bench-1", prefetch_of(resources)))
        client.post(HOOK, data=body, content_type="application/json")
        profiler = Profiler(interval=0.0005)
        profiler.start()
        for _ in range(calls):
            client.post(HOOK, data=body, content_type="application/json")
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


@contextmanager
def healthchain_server(tmp: Path) -> Iterator[Served | None]:
    """HealthChain under gunicorn (its uvicorn worker, 2 workers) from its own virtualenv, or
    None when HEALTHCHAIN_VENV is not set (`make bench` sets it)."""
    venv = os.environ.get("HEALTHCHAIN_VENV")
    if not venv:
        yield None
        return
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    with gunicorn_app(
        "bench.healthchain_app:build()",
        env,
        log=tmp / "healthchain.log",
        worker_class="uvicorn.workers.UvicornWorker",
        gunicorn=Path(venv) / "bin" / "gunicorn",
        probe="/health",
    ) as served:
        yield served


def healthchain_version() -> str:
    venv = os.environ.get("HEALTHCHAIN_VENV")
    if not venv:
        return "not run"
    done = subprocess.run(
        [str(Path(venv) / "bin" / "python"), "-c", VERSION_PROBE],
        capture_output=True,
        check=True,
        text=True,
    )
    return done.stdout.strip()


VERSION_PROBE = "import importlib.metadata as m; print(m.version('healthchain'))"


def main(argv: list[str]) -> int:
    """Every measure, or with `cold-start` only that one (it starts its own servers)."""
    if argv == ["cold-start"]:
        with tempfile.TemporaryDirectory(prefix="relapse-bench-") as name:
            rows = cold_start(Path(name))
        print(table(rows))
        return 0 if all(row.met is not False for row in rows) else 1
    if argv:
        print("usage: python -m bench [cold-start]", file=sys.stderr)
        return 2
    # The in-process FHIR proxy's access log would drown the table.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    rows = []
    with tempfile.TemporaryDirectory(prefix="relapse-bench-") as name:
        tmp = Path(name)
        with (
            bench_server(tmp) as served,
            healthchain_server(tmp) as healthchain,
            requests.Session() as session,
        ):
            latency_rows, floor = latency(served, healthchain, session)
            rows += latency_rows
            rows += routine(served, healthchain, session)
            rows += scale(served, session)
            rows += big(served, healthchain, session)
            rows += fetch_path(served, session, tmp, floor)
        rows += cold_start(tmp)
        rows += cli(tmp)
    print(
        f"Machine: {machine()}. gunicorn, 2 workers ({WORKER_CLASS}, as `relapse-cds serve`), "
        f"auth none, loopback HTTP; HealthChain {healthchain_version()}: gunicorn, 2 uvicorn "
        "workers.\n"
    )
    print(table(rows))
    print()
    print("Profile, patient-view with a 20-resource prefetch:")
    print(profile(synthetic_record(20), 200))
    print()
    print(f"Profile, patient-view with a 20-resource prefetch and {ROUTINE:,} routine labs:")
    print(profile(synthetic_record(20) + routine_labs(ROUTINE), 10))
    return 0 if all(row.met is not False for row in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

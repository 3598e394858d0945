"""Load clients run in their own process: `python -m bench.load hooks|feedback URL ...`.

Prints one JSON object with the counts; the exit code is 0 even with errors (the caller asserts).
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import requests

from bench.data import hook_body, prefetch_of, synthetic_record

TIMEOUT = (3.05, 30.0)
SERVICE = "relapsed-all-risk"


def hooks(url: str, seconds: float, threads: int, size: int) -> dict[str, Any]:
    """Hook calls with a prefetch, from `threads` clients, for `seconds`."""
    prefetch = prefetch_of(synthetic_record(size))
    statuses: Counter[str] = Counter()
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def client() -> None:
        with requests.Session() as session:
            while time.monotonic() < stop:
                try:
                    response = session.post(
                        f"{url}/cds-services/{SERVICE}",
                        json=hook_body("bench-1", prefetch),
                        timeout=TIMEOUT,
                    )
                    ok = response.status_code == 200 and len(response.json()["cards"]) > 0
                    outcome = str(response.status_code) if ok else f"bad-{response.status_code}"
                except requests.RequestException as exc:
                    outcome = type(exc).__name__
                with lock:
                    statuses[outcome] += 1

    with ThreadPoolExecutor(threads) as pool:
        for _ in range(threads):
            pool.submit(client)
    return {"requests": sum(statuses.values()), "statuses": dict(statuses)}


FEEDBACK_FROM = datetime(2026, 11, 22, 10, tzinfo=UTC)


def issued_cards(url: str) -> list[str]:
    """The uuids of the cards of one hook call: the service takes feedback only for those."""
    response = requests.post(
        f"{url}/cds-services/{SERVICE}",
        json=hook_body("bench-1", prefetch_of(synthetic_record(20))),
        timeout=TIMEOUT,
    )
    response.raise_for_status()
    return [card["uuid"] for card in response.json()["cards"]]


def feedback_body(card: str, when: datetime = FEEDBACK_FROM) -> dict[str, Any]:
    stamp = when.isoformat().replace("+00:00", "Z")
    return {"feedback": [{"card": card, "outcome": "overridden", "outcomeTimestamp": stamp}]}


def feedback(url: str, count: int, threads: int) -> dict[str, Any]:
    """`count` distinct feedback items, `threads` at a time: one hook call's cards, each item at
    its own time (a distinct item, not a duplicate)."""
    cards = issued_cards(url)
    local = threading.local()

    def post(i: int) -> str:
        session = getattr(local, "session", None)
        if session is None:
            session = local.session = requests.Session()
        body = feedback_body(cards[i % len(cards)], FEEDBACK_FROM + timedelta(seconds=i))
        try:
            response = session.post(
                f"{url}/cds-services/{SERVICE}/feedback", json=body, timeout=TIMEOUT
            )
        except requests.RequestException as exc:
            return type(exc).__name__
        return str(response.status_code)

    with ThreadPoolExecutor(threads) as pool:
        statuses = Counter(pool.map(post, range(count)))
    return {"requests": count, "statuses": dict(statuses)}


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.load")
    commands = parser.add_subparsers(dest="command", required=True)
    hook = commands.add_parser("hooks")
    hook.add_argument("url")
    hook.add_argument("--seconds", type=float, default=10.0)
    hook.add_argument("--threads", type=int, default=4)
    hook.add_argument("--size", type=int, default=20)
    back = commands.add_parser("feedback")
    back.add_argument("url")
    back.add_argument("--count", type=int, default=1000)
    back.add_argument("--threads", type=int, default=32)
    args = parser.parse_args()
    if args.command == "hooks":
        result = hooks(args.url, args.seconds, args.threads, args.size)
    else:
        result = feedback(args.url, args.count, args.threads)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())

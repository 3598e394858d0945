"""SMART sessions on SQLite and on a real PostgreSQL: found by cookie only, states used once."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from service.smart.sessions import MAX_PENDING, Context, Pending, SessionStore
from tests.integration.postgres import database_of


@pytest.fixture(
    scope="module",
    params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)],
)
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    with database_of(request.param, tmp_path_factory.mktemp("smart")) as url:
        yield url


@pytest.fixture
def engine(database_url: str) -> Iterator[sa.Engine]:
    engine = sa.create_engine(database_url)
    SessionStore(b"s" * 16, engine)  # creates the tables
    with engine.begin() as db:
        for table in ("smart_pending", "smart_sessions"):
            db.execute(sa.text(f"DELETE FROM {table}"))  # noqa: S608 (fixed names)
    yield engine
    engine.dispose()


def test_session_store_finds_sessions_only_by_their_cookie_and_expires_them(
    engine: sa.Engine,
) -> None:
    now = [time.time()]
    store = SessionStore(b"s" * 16, engine, ttl=10, clock=lambda: now[0])
    sid, session = store.create()
    assert store.get(sid) == session
    assert store.get("guess") is None
    for n in range(MAX_PENDING + 2):
        now[0] += 0.01
        store.add_pending(session, f"state{n}", Pending("i", "t", "v", "r"))
    assert store.take_pending(session, "state0") is None  # oldest dropped
    _, stranger = store.create()
    assert store.take_pending(stranger, f"state{MAX_PENDING + 1}") is None  # not its launch
    assert store.take_pending(session, f"state{MAX_PENDING + 1}") is not None
    assert store.take_pending(session, f"state{MAX_PENDING + 1}") is None  # one use only
    session.context = Context("https://ehr.example/fhir", "token", "p1", "view=pathway")
    new_sid, renewed = store.rotate(session)
    assert new_sid != sid
    assert store.get(sid) is None  # the id from before login grants nothing
    assert store.take_pending(renewed, "state2") is not None  # other tabs' launches follow
    # Another worker (another store on the same database) finds the same session.
    other = SessionStore(b"s" * 16, engine, ttl=10, clock=lambda: now[0])
    found = other.get(new_sid)
    assert found is not None
    assert found.context == session.context
    now[0] += 11
    assert store.get(new_sid) is None


def test_two_callbacks_with_one_state_consume_it_once(engine: sa.Engine) -> None:
    store = SessionStore(b"s" * 16, engine)
    _, session = store.create()
    store.add_pending(session, "state", Pending("i", "t", "v", "r"))
    both_read = threading.Barrier(2)
    local = threading.local()

    @sa.event.listens_for(engine, "after_cursor_execute")
    def wait_for_the_other(*args: Any) -> None:
        # Each callback has read the state before either goes on: the race, made certain.
        if args[2].lstrip().upper().startswith("SELECT") and not getattr(local, "done", False):
            local.done = True
            both_read.wait(timeout=10)

    taken: list[Pending | None] = []
    callbacks = [
        threading.Thread(target=lambda: taken.append(store.take_pending(session, "state")))
        for _ in range(2)
    ]
    for t in callbacks:
        t.start()
    for t in callbacks:
        t.join()
    assert sorted(p is not None for p in taken) == [False, True]

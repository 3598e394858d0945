"""Server-side sessions of the SMART app: tokens never leave the server.

The browser holds only an opaque random id in a cookie; the store is keyed by an HMAC of that id
under the session secret, so the store's keys cannot be replayed as cookies. Sessions live in the
service's database, so every gunicorn worker finds them (no sticky sessions needed).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

COOKIE = "relapse_smart_sid"
MAX_PENDING = 8  # concurrent launches per browser; older ones are dropped

_metadata = sa.MetaData()
_sessions = sa.Table(
    "smart_sessions",
    _metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("data", sa.Text, nullable=False),
    sa.Column("touched", sa.Float, nullable=False, index=True),
)
# Launches in flight, one row per `state`: a callback consumes its row with one DELETE, so of two
# concurrent callbacks with the same state only one (the one whose DELETE removed the row) goes on.
_pending = sa.Table(
    "smart_pending",
    _metadata,
    sa.Column("key", sa.String(64), primary_key=True),  # HMAC of the state
    sa.Column("session", sa.String(64), nullable=False, index=True),
    sa.Column("data", sa.Text, nullable=False),
    sa.Column("created", sa.Float, nullable=False, index=True),
)


@dataclass(frozen=True)
class Pending:
    """An authorization request in flight, found again by its `state`."""

    iss: str
    token_endpoint: str
    code_verifier: str
    redirect_uri: str
    view: str | None = None  # the `view` the launch URL carried, for launchers without appContext


@dataclass(frozen=True)
class Context:
    """What the EHR granted: the FHIR base, the token and the launch context."""

    iss: str
    access_token: str = field(repr=False)
    patient: str
    app_context: str | None


@dataclass
class Session:
    key: str
    context: Context | None = None

    def dump(self) -> str:
        return json.dumps({"context": asdict(self.context) if self.context else None})

    @classmethod
    def load(cls, key: str, data: str) -> Session:
        raw: dict[str, Any] = json.loads(data)
        context = raw.get("context")
        return cls(key, Context(**context) if context else None)


class SessionStore:
    def __init__(
        self,
        secret: bytes,
        engine: Engine,
        *,
        ttl: float = 3600.0,
        clock: Callable[[], float] = time.time,  # wall clock: workers share the store
    ) -> None:
        if len(secret) < 16:
            raise ValueError("session_secret must be at least 16 bytes")
        self._secret = secret
        self._engine = engine
        self._ttl = ttl
        self._clock = clock
        _metadata.create_all(engine)
        engine.dispose()  # gunicorn forks after this: workers must not share a pooled connection

    def _key(self, sid: str) -> str:
        return hmac.new(self._secret, sid.encode(), hashlib.sha256).hexdigest()

    def create(self) -> tuple[str, Session]:
        """A new session and the cookie value that finds it."""
        sid = secrets.token_urlsafe(32)
        session = Session(self._key(sid))
        expired = self._clock() - self._ttl
        with self._engine.begin() as db:
            db.execute(_sessions.delete().where(_sessions.c.touched < expired))
            db.execute(_pending.delete().where(_pending.c.created < expired))
            db.execute(
                _sessions.insert().values(
                    key=session.key, data=session.dump(), touched=self._clock()
                )
            )
        return sid, session

    def rotate(self, session: Session) -> tuple[str, Session]:
        """The same session under a new cookie value; the old one finds nothing any more.

        Done at login, so a session id planted or seen before sign-in is worth nothing after.
        """
        sid = secrets.token_urlsafe(32)
        renewed = Session(self._key(sid), session.context)
        with self._engine.begin() as db:
            db.execute(_sessions.delete().where(_sessions.c.key == session.key))
            db.execute(
                _sessions.insert().values(
                    key=renewed.key, data=renewed.dump(), touched=self._clock()
                )
            )
            # Launches of other tabs of this browser still find their way back.
            db.execute(
                _pending.update()
                .where(_pending.c.session == session.key)
                .values(session=renewed.key)
            )
        return sid, renewed

    def get(self, sid: str | None) -> Session | None:
        if not sid:
            return None
        with self._engine.begin() as db:
            return self._read(db, self._key(sid))

    def add_pending(self, session: Session, state: str, pending: Pending) -> None:
        with self._engine.begin() as db:
            db.execute(
                _pending.insert().values(
                    key=self._key(state),
                    session=session.key,
                    data=json.dumps(asdict(pending)),
                    created=self._clock(),
                )
            )
            kept = (
                sa.select(_pending.c.key)
                .where(_pending.c.session == session.key)
                .order_by(_pending.c.created.desc(), _pending.c.key)
                .limit(MAX_PENDING)
            )
            db.execute(
                _pending.delete().where(
                    _pending.c.session == session.key, _pending.c.key.not_in(kept.scalar_subquery())
                )
            )

    def take_pending(self, session: Session, state: str) -> Pending | None:
        """The request `state` names, if this session started it; removed, so used only once."""
        key = self._key(state)
        mine = (_pending.c.key == key) & (_pending.c.session == session.key)
        with self._engine.begin() as db:
            row = db.execute(sa.select(_pending.c.data, _pending.c.created).where(mine)).first()
            if row is None or row.created < self._clock() - self._ttl:
                return None
            # Only the caller whose DELETE removed the row may use it (DELETE's count is exact
            # on SQLite and PostgreSQL alike; a concurrent one waits and finds nothing).
            if db.execute(_pending.delete().where(mine)).rowcount != 1:
                return None
        return Pending(**json.loads(row.data))

    def _read(self, db: Connection, key: str) -> Session | None:
        row = db.execute(
            sa.select(_sessions.c.data, _sessions.c.touched).where(_sessions.c.key == key)
        ).first()
        now = self._clock()
        if row is None or row.touched < now - self._ttl:
            return None
        db.execute(_sessions.update().where(_sessions.c.key == key).values(touched=now))
        return Session.load(key, row.data)

"""Server-side sessions of the SMART app: tokens never leave the server.

The browser holds only an opaque random id in a cookie; the store is keyed by an HMAC of that id
under the session secret, so the store's keys cannot be replayed as cookies. State lives in
process memory: run one worker, or put sticky sessions in front of several.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

COOKIE = "relapse_smart_sid"
MAX_PENDING = 8  # concurrent launches per browser; older ones are dropped


@dataclass(frozen=True)
class Pending:
    """An authorization request in flight, found again by its `state`."""

    iss: str
    token_endpoint: str
    code_verifier: str
    redirect_uri: str


@dataclass(frozen=True)
class Context:
    """What the EHR granted: the FHIR base, the token and the launch context."""

    iss: str
    access_token: str = field(repr=False)
    patient: str
    app_context: str | None


@dataclass
class Session:
    pending: dict[str, Pending] = field(default_factory=dict)
    context: Context | None = None
    touched: float = 0.0


class SessionStore:
    def __init__(
        self, secret: bytes, *, ttl: float = 3600.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if len(secret) < 16:
            raise ValueError("session_secret must be at least 16 bytes")
        self._secret = secret
        self._ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._sessions: dict[str, Session] = {}

    def _key(self, sid: str) -> str:
        return hmac.new(self._secret, sid.encode(), hashlib.sha256).hexdigest()

    def create(self) -> tuple[str, Session]:
        """A new session and the cookie value that finds it."""
        sid = secrets.token_urlsafe(32)
        session = Session(touched=self._clock())
        with self._lock:
            self._expire()
            self._sessions[self._key(sid)] = session
        return sid, session

    def get(self, sid: str | None) -> Session | None:
        if not sid:
            return None
        with self._lock:
            self._expire()
            session = self._sessions.get(self._key(sid))
            if session is not None:
                session.touched = self._clock()
            return session

    def add_pending(self, session: Session, state: str, pending: Pending) -> None:
        with self._lock:
            while len(session.pending) >= MAX_PENDING:
                session.pending.pop(next(iter(session.pending)))
            session.pending[state] = pending

    def take_pending(self, session: Session, state: str) -> Pending | None:
        """The request `state` names, removed so it cannot be used twice."""
        with self._lock:
            return session.pending.pop(state, None)

    def _expire(self) -> None:
        limit = self._clock() - self._ttl
        for key in [k for k, s in self._sessions.items() if s.touched < limit]:
            del self._sessions[key]

"""Card feedback storage (CDS Hooks 2.0 §feedback), idempotent, on SQLite or PostgreSQL.

Feedback is taken only for cards this service issued: each issued card's uuid (and its
suggestions' uuids) is kept for `card_lifetime`, in the same database, so every worker knows it.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from cds_hooks.errors import BadRequest
from cds_hooks.models import Card, FeedbackItem

SQLITE_BUSY_MS = 30_000
DEFAULT_CARD_LIFETIME = timedelta(days=30)

metadata = sa.MetaData()

feedback_table = sa.Table(
    "cds_feedback",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("service_id", sa.String(128), nullable=False),
    sa.Column("card_uuid", sa.String(64), nullable=False),
    sa.Column("outcome", sa.String(16), nullable=False),
    # Normalised to UTC ISO text so one instant always gives one unique key.
    sa.Column("outcome_timestamp", sa.String(40), nullable=False),
    sa.Column("accepted_suggestions", sa.Text, nullable=True),
    sa.Column("override_reason", sa.Text, nullable=True),
    sa.Column("received_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
    sa.UniqueConstraint(
        "service_id", "card_uuid", "outcome", "outcome_timestamp", name="uq_cds_feedback"
    ),
)


issued_cards_table = sa.Table(
    "cds_issued_cards",
    metadata,
    sa.Column("service_id", sa.String(128), primary_key=True),
    sa.Column("card_uuid", sa.String(36), primary_key=True),
    # JSON list of the card's suggestion uuids: accepted suggestions must be among them.
    sa.Column("suggestions", sa.Text, nullable=False),
    sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False, index=True),
)


def create_engine(database_url: str, *, synchronous: str = "FULL") -> Engine:
    """An engine; SQLite gets WAL and a busy timeout so several workers can write, and
    `synchronous` (FULL: a commit is on disk when it returns; NORMAL: it may be lost with power,
    never corrupting the database, and needs no fsync per commit)."""
    if not database_url.startswith("sqlite"):
        return sa.create_engine(database_url, pool_pre_ping=True)
    if synchronous not in ("FULL", "NORMAL"):
        raise ValueError(f"unsupported SQLite synchronous mode {synchronous!r}")
    engine = sa.create_engine(database_url, connect_args={"timeout": SQLITE_BUSY_MS / 1000})

    @sa.event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_MS}")
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.close()

    return engine


def insert_ignoring_duplicates(engine: Engine, table: sa.Table) -> Any:
    """INSERT … ON CONFLICT DO NOTHING in the engine's dialect."""
    if engine.dialect.name == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    if engine.dialect.name == "sqlite":
        return sqlite.insert(table).on_conflict_do_nothing()
    raise ValueError(f"unsupported database dialect {engine.dialect.name}")


class FeedbackStore:
    """Stores issued cards and feedback items; `engine` is shared with the JWT replay store."""

    def __init__(self, database_url: str, card_lifetime: timedelta = DEFAULT_CARD_LIFETIME) -> None:
        if card_lifetime <= timedelta(0):
            raise ValueError("card_lifetime must be positive")
        self.card_lifetime = card_lifetime
        self.engine = create_engine(database_url)
        # Every hook call records its cards: on SQLite, without an fsync each time (a fifth of a
        # call). What a power loss can take is the last cards issued, whose feedback would then
        # be refused; feedback and the JWT replay ids keep their durable commits.
        self._issued_engine = (
            create_engine(database_url, synchronous="NORMAL")
            if self.engine.dialect.name == "sqlite"
            else self.engine
        )
        metadata.create_all(self.engine)
        # gunicorn forks after this: a pooled connection would be shared by every worker.
        self.engine.dispose()
        self._issued_engine.dispose()

    def record_issued(
        self, service_id: str, cards: Sequence[Card], now: datetime | None = None
    ) -> None:
        """Remember `cards` as issued at `now`, and forget cards issued before the lifetime."""
        issued_at = now or datetime.now(UTC)
        rows = [
            {
                "service_id": service_id,
                "card_uuid": _canonical(card.uuid),
                "suggestions": json.dumps([_canonical(s.uuid) for s in card.suggestions]),
                "issued_at": issued_at,
            }
            for card in cards
        ]
        with self._issued_engine.begin() as connection:
            connection.execute(
                issued_cards_table.delete().where(
                    issued_cards_table.c.issued_at < issued_at - self.card_lifetime
                )
            )
            if rows:
                connection.execute(
                    insert_ignoring_duplicates(self._issued_engine, issued_cards_table), rows
                )

    def add(
        self, service_id: str, items: Sequence[FeedbackItem], now: datetime | None = None
    ) -> int:
        """Store `items`; returns how many were new (duplicates are ignored).

        Raises BadRequest, storing nothing, when an item names a card this service did not
        issue within the card lifetime, or a suggestion that card did not hold.
        """
        # rowcount is -1 through psycopg for ON CONFLICT DO NOTHING: a returned row is what
        # tells a new item from a duplicate, in every dialect.
        statement = insert_ignoring_duplicates(self.engine, feedback_table).returning(
            feedback_table.c.id
        )
        added = 0
        with self.engine.begin() as connection:
            issued = self._issued(connection, service_id, items, now or datetime.now(UTC))
            for i, item in enumerate(items):
                suggestions = issued.get(item.card)
                if suggestions is None:
                    raise BadRequest(
                        f"feedback[{i}].card", "is not a card this service issued (or it expired)"
                    )
                for j, sid in enumerate(item.accepted_suggestions):
                    if sid not in suggestions:
                        raise BadRequest(
                            f"feedback[{i}].acceptedSuggestions[{j}].id",
                            "is not a suggestion of that card",
                        )
            for item in items:
                if connection.execute(statement, _row(service_id, item)).first() is not None:
                    added += 1
        return added

    def _issued(
        self,
        connection: sa.Connection,
        service_id: str,
        items: Sequence[FeedbackItem],
        now: datetime,
    ) -> dict[str, frozenset[str]]:
        """Suggestion uuids by card uuid, for the cards of `items` still within their lifetime."""
        table = issued_cards_table
        found = connection.execute(
            sa.select(table.c.card_uuid, table.c.suggestions).where(
                table.c.service_id == service_id,
                table.c.card_uuid.in_(sorted({item.card for item in items})),
                table.c.issued_at >= now - self.card_lifetime,
            )
        )
        return {card: frozenset(json.loads(suggestions)) for card, suggestions in found}

    def count(self) -> int:
        with self.engine.connect() as connection:
            return int(
                connection.execute(
                    sa.select(sa.func.count()).select_from(feedback_table)
                ).scalar_one()
            )


def _canonical(value: str) -> str:
    """The form feedback uuids are normalised to (models.normalise_uuid), for any UUID form."""
    return str(uuid.UUID(value))


def _row(service_id: str, item: FeedbackItem) -> dict[str, Any]:
    override = item.override_reason
    return {
        "service_id": service_id,
        "card_uuid": item.card,
        "outcome": item.outcome,
        "outcome_timestamp": item.outcome_timestamp.astimezone(UTC).isoformat(),
        "accepted_suggestions": json.dumps(list(item.accepted_suggestions))
        if item.accepted_suggestions
        else None,
        "override_reason": json.dumps(
            {
                "reason": override.reason.to_json() if override.reason else None,
                "userComment": override.user_comment,
            }
        )
        if override
        else None,
    }

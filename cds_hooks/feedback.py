"""Card feedback storage (CDS Hooks 2.0 §feedback), idempotent, on SQLite or PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from cds_hooks.models import FeedbackItem

SQLITE_BUSY_MS = 30_000

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


def create_engine(database_url: str) -> Engine:
    """An engine; SQLite gets WAL and a busy timeout so several workers can write."""
    if not database_url.startswith("sqlite"):
        return sa.create_engine(database_url, pool_pre_ping=True)
    engine = sa.create_engine(database_url, connect_args={"timeout": SQLITE_BUSY_MS / 1000})

    @sa.event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_MS}")
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
    """Stores feedback items; `engine` is shared with the JWT replay store."""

    def __init__(self, database_url: str) -> None:
        self.engine = create_engine(database_url)
        metadata.create_all(self.engine)
        # gunicorn forks after this: a pooled connection would be shared by every worker.
        self.engine.dispose()

    def add(self, service_id: str, items: Sequence[FeedbackItem]) -> int:
        """Store `items`; returns how many were new (duplicates are ignored)."""
        statement = insert_ignoring_duplicates(self.engine, feedback_table)
        added = 0
        with self.engine.begin() as connection:
            for item in items:
                result = connection.execute(statement, _row(service_id, item))
                added += max(result.rowcount, 0)
        return added

    def count(self) -> int:
        with self.engine.connect() as connection:
            return int(
                connection.execute(
                    sa.select(sa.func.count()).select_from(feedback_table)
                ).scalar_one()
            )


def _row(service_id: str, item: FeedbackItem) -> dict[str, Any]:
    override = item.override_reason
    return {
        "service_id": service_id,
        "card_uuid": item.card.lower(),
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

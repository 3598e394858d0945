"""Feedback storage on a real SQLite file and a real PostgreSQL: idempotent, only for issued
cards, shared by several stores."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa

from cds_hooks.errors import BadRequest
from cds_hooks.feedback import FeedbackStore, metadata
from cds_hooks.models import Card, Coding, FeedbackItem, OverrideReason, Source, Suggestion
from tests.integration.postgres import postgres_cluster

SUGGESTION = str(uuid.uuid4())
CARD = Card(
    summary="A card",
    indicator="info",
    source=Source("Test"),
    uuid=str(uuid.uuid4()),
    suggestions=(Suggestion("Do it", SUGGESTION),),
    selection_behavior="any",
)
WHEN = datetime(2026, 11, 23, 3, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    with postgres_cluster() as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'f.db'}"
        return
    url: str = request.getfixturevalue("postgres_url")
    yield url
    engine = sa.create_engine(url)
    metadata.drop_all(engine)  # the next test starts from an empty database
    engine.dispose()


@pytest.fixture
def store(database_url: str) -> Iterator[FeedbackStore]:
    created = FeedbackStore(database_url)
    created.record_issued("svc", [CARD])
    yield created
    created.engine.dispose()


def accepted(when: datetime = WHEN, card: str = CARD.uuid) -> FeedbackItem:
    return FeedbackItem(card, "accepted", when, accepted_suggestions=(SUGGESTION,))


def test_duplicates_are_ignored(store: FeedbackStore) -> None:
    assert store.add("svc", [accepted()]) == 1
    assert store.add("svc", [accepted()]) == 0
    assert store.count() == 1


def test_same_instant_in_another_offset_is_a_duplicate(store: FeedbackStore) -> None:
    chicago = WHEN.astimezone(timezone(timedelta(hours=-6)))
    assert store.add("svc", [accepted(), accepted(chicago)]) == 1


def test_distinct_outcomes_and_times_are_kept(store: FeedbackStore) -> None:
    overridden = FeedbackItem(
        CARD.uuid, "overridden", WHEN, override_reason=OverrideReason(Coding("x", "s", "X"), "why")
    )
    added = store.add("svc", [accepted(), overridden, accepted(WHEN + timedelta(seconds=1))])
    assert added == 3
    assert store.count() == 3


def test_two_stores_on_one_database_agree(store: FeedbackStore, database_url: str) -> None:
    store.add("svc", [accepted()])
    second = FeedbackStore(database_url)
    assert second.add("svc", [accepted()]) == 0
    assert second.count() == 1
    second.engine.dispose()


def test_a_card_never_issued_is_refused_and_nothing_is_stored(store: FeedbackStore) -> None:
    with pytest.raises(BadRequest) as caught:
        store.add("svc", [accepted(), accepted(card=str(uuid.uuid4()))])
    assert caught.value.field == "feedback[1].card"
    assert store.count() == 0


def test_a_card_of_another_service_is_refused(store: FeedbackStore) -> None:
    with pytest.raises(BadRequest):
        store.add("other", [accepted()])


def test_a_suggestion_the_card_did_not_hold_is_refused(store: FeedbackStore) -> None:
    item = FeedbackItem(CARD.uuid, "accepted", WHEN, accepted_suggestions=(str(uuid.uuid4()),))
    with pytest.raises(BadRequest) as caught:
        store.add("svc", [item])
    assert caught.value.field == "feedback[0].acceptedSuggestions[0].id"


def test_cards_expire_after_their_lifetime(database_url: str) -> None:
    store = FeedbackStore(database_url, card_lifetime=timedelta(hours=1))
    store.record_issued("svc", [CARD], now=WHEN)
    assert store.add("svc", [accepted()], now=WHEN + timedelta(minutes=59)) == 1
    with pytest.raises(BadRequest):
        store.add("svc", [accepted(WHEN + timedelta(seconds=1))], now=WHEN + timedelta(hours=2))
    store.engine.dispose()


def test_expired_cards_are_deleted_when_new_ones_are_issued(database_url: str) -> None:
    store = FeedbackStore(database_url, card_lifetime=timedelta(hours=1))
    store.record_issued("svc", [CARD], now=WHEN)
    later = Card(summary="Later", indicator="info", source=Source("Test"), uuid=str(uuid.uuid4()))
    store.record_issued("svc", [later], now=WHEN + timedelta(hours=2))
    with store.engine.connect() as connection:
        kept = connection.execute(sa.text("SELECT card_uuid FROM cds_issued_cards")).scalars()
        assert list(kept) == [later.uuid]
    store.engine.dispose()


def test_a_card_issued_with_a_uuid_in_braces_takes_feedback_in_the_plain_form(
    database_url: str,
) -> None:
    plain = str(uuid.uuid4())
    braced = Card(summary="A card", indicator="info", source=Source("Test"), uuid=f"{{{plain}}}")
    store = FeedbackStore(database_url)
    store.record_issued("svc", [braced])
    assert store.add("svc", [FeedbackItem(plain, "overridden", WHEN)]) == 1
    store.engine.dispose()


def test_on_sqlite_only_issued_cards_are_committed_without_fsync(tmp_path: Path) -> None:
    """Issued cards (one commit per hook call) may be lost with power; feedback and the JWT
    replay ids, on the store's engine, are on disk when their commit returns."""
    store = FeedbackStore(f"sqlite:///{tmp_path / 'f.sqlite3'}")
    modes = {}
    for name, engine in (("store", store.engine), ("issued", store._issued_engine)):
        with engine.connect() as connection:
            modes[name] = connection.exec_driver_sql("PRAGMA synchronous").scalar()
    assert modes == {"store": 2, "issued": 1}  # FULL, NORMAL

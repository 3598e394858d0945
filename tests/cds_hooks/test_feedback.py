"""Feedback storage on a real SQLite file: idempotent, shared by several stores."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

from cds_hooks.feedback import FeedbackStore
from cds_hooks.models import Coding, FeedbackItem, OverrideReason

CARD = str(uuid.uuid4())
WHEN = datetime(2026, 11, 23, 3, 30, tzinfo=UTC)


def accepted(when: datetime = WHEN) -> FeedbackItem:
    return FeedbackItem(CARD, "accepted", when, accepted_suggestions=(str(uuid.uuid4()),))


def test_duplicates_are_ignored(tmp_path: Path) -> None:
    store = FeedbackStore(f"sqlite:///{tmp_path / 'f.db'}")
    assert store.add("svc", [accepted()]) == 1
    assert store.add("svc", [accepted()]) == 0
    assert store.count() == 1


def test_same_instant_in_another_offset_is_a_duplicate(tmp_path: Path) -> None:
    store = FeedbackStore(f"sqlite:///{tmp_path / 'f.db'}")
    chicago = WHEN.astimezone(timezone(timedelta(hours=-6)))
    assert store.add("svc", [accepted(), accepted(chicago)]) == 1


def test_distinct_outcomes_services_and_times_are_kept(tmp_path: Path) -> None:
    store = FeedbackStore(f"sqlite:///{tmp_path / 'f.db'}")
    overridden = FeedbackItem(
        CARD, "overridden", WHEN, override_reason=OverrideReason(Coding("x", "s", "X"), "why")
    )
    added = store.add("svc", [accepted(), overridden, accepted(WHEN + timedelta(seconds=1))])
    added += store.add("other", [accepted()])
    assert added == 4
    assert store.count() == 4


def test_two_stores_on_one_file_agree(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'f.db'}"
    FeedbackStore(url).add("svc", [accepted()])
    second = FeedbackStore(url)
    assert second.add("svc", [accepted()]) == 0
    assert second.count() == 1

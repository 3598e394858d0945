"""Models: validation, JSON shape, request/feedback parsing, the response checker."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from cds_hooks.errors import BadRequest
from cds_hooks.models import (
    MAX_ACCEPTED_SUGGESTIONS,
    MAX_COMMENT,
    MAX_FEEDBACK_ITEMS,
    Action,
    Card,
    Coding,
    HookRequest,
    Link,
    Source,
    Suggestion,
    check_cards_response,
    parse_feedback,
)
from tests.cds_hooks.conftest import hook_body

U1 = str(uuid.uuid4())
U2 = str(uuid.uuid4())


def card(**overrides: Any) -> Card:
    fields: dict[str, Any] = {
        "summary": "Summary",
        "indicator": "info",
        "source": Source("Src"),
        "uuid": U1,
    }
    fields.update(overrides)
    return Card(**fields)


def test_card_json_omits_none_and_empty_fields() -> None:
    assert card().to_json() == {
        "uuid": U1,
        "summary": "Summary",
        "indicator": "info",
        "source": {"label": "Src"},
    }


def test_full_card_json_uses_spec_names_and_passes_the_checker() -> None:
    full = card(
        detail="d",
        suggestions=(
            Suggestion(
                "Do it",
                U2,
                (Action("create", "make", {"resourceType": "Task"}),),
                is_recommended=True,
            ),
        ),
        selection_behavior="at-most-one",
        override_reasons=(Coding("x", "http://s", "Because"),),
        links=(Link("App", "https://app.example.org/launch", "smart", app_context="a=1"),),
        extension={"k": 1},
    ).to_json()
    assert full["selectionBehavior"] == "at-most-one"
    assert full["suggestions"][0]["isRecommended"] is True
    assert full["links"][0]["appContext"] == "a=1"
    assert full["overrideReasons"] == [{"code": "x", "system": "http://s", "display": "Because"}]
    assert check_cards_response({"cards": [full]}) == []


@pytest.mark.parametrize(
    "overrides",
    [
        {"summary": "x" * 140},
        {"summary": ""},
        {"indicator": "hard-stop"},
        {"uuid": "not-a-uuid"},
        {"selection_behavior": "any"},
        {"suggestions": (Suggestion("s", U2),)},
        {"override_reasons": (Coding("x"),)},
    ],
)
def test_invalid_cards_are_refused(overrides: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="Card"):
        card(**overrides)


def test_app_context_only_on_smart_links() -> None:
    with pytest.raises(ValueError, match="smart"):
        Link("Doc", "https://x.example.org", "absolute", app_context="a")
    with pytest.raises(ValueError, match="url"):
        Link("Doc", "/relative", "absolute")


def test_actions_need_their_payload() -> None:
    with pytest.raises(ValueError, match="resource"):
        Action("create", "c")
    with pytest.raises(ValueError, match="resource_id"):
        Action("delete", "d")


def test_hook_request_parses_a_valid_body() -> None:
    body = hook_body(
        fhirServer="https://fhir.example.org/r4",
        fhirAuthorization={
            "access_token": "s3cr3t-value",
            "token_type": "Bearer",
            "expires_in": 300,
            "scope": "patient/*.read",
            "subject": "client",
        },
    )
    request = HookRequest.from_json(body)
    assert request.patient_id == "p1"
    assert request.fhir_authorization is not None
    assert "s3cr3t-value" not in repr(request)


def _auth(**overrides: Any) -> dict[str, Any]:
    auth: dict[str, Any] = {
        "access_token": "tok",
        "token_type": "Bearer",
        "expires_in": 300,
        "scope": "s",
        "subject": "c",
    }
    auth.update(overrides)
    return auth


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ([], "body"),
        (hook_body(hook=None), "hook"),
        (hook_body(hookInstance=""), "hookInstance"),
        (hook_body(context="x"), "context"),
        (hook_body(context={"userId": "Practitioner/1"}), "context.patientId"),
        (hook_body(context={"patientId": "../x", "userId": "Practitioner/1"}), "context.patientId"),
        (hook_body(context={"patientId": "p1", "userId": "bob"}), "context.userId"),
        (hook_body(fhirServer="ftp://x"), "fhirServer"),
        (hook_body(fhirServer="/relative"), "fhirServer"),
        (hook_body(fhirAuthorization=_auth()), "fhirServer"),
        (
            hook_body(fhirServer="https://f", fhirAuthorization=_auth(access_token="")),
            "fhirAuthorization.access_token",
        ),
        (
            hook_body(fhirServer="https://f", fhirAuthorization=_auth(token_type="MAC")),
            "fhirAuthorization.token_type",
        ),
        (
            hook_body(fhirServer="https://f", fhirAuthorization=_auth(expires_in="300")),
            "fhirAuthorization.expires_in",
        ),
        (
            hook_body(fhirServer="https://f", fhirAuthorization=_auth(scope=None)),
            "fhirAuthorization.scope",
        ),
        (
            hook_body(fhirServer="https://f", fhirAuthorization=_auth(subject=3)),
            "fhirAuthorization.subject",
        ),
        (hook_body(prefetch={"patient": [1]}), "prefetch.patient"),
        # Path segments, not ids: "." searched every patient and read the first.
        (hook_body(context={"patientId": ".", "userId": "Practitioner/1"}), "context.patientId"),
        (hook_body(context={"patientId": "..", "userId": "Practitioner/1"}), "context.patientId"),
        (hook_body(context={"patientId": "p1", "userId": "Practitioner/.."}), "context.userId"),
        (
            hook_body(context={"patientId": "p1", "userId": "Practitioner/1", "encounterId": "."}),
            "context.encounterId",
        ),
        (
            hook_body(fhirServer="https://f", fhirAuthorization=_auth(patient="..")),
            "fhirAuthorization.patient",
        ),
        (hook_body(hookInstance="not-a-uuid"), "hookInstance"),
        (hook_body(hookInstance="x" * 100_000), "hookInstance"),
        (hook_body(hookInstance=7), "hookInstance"),
        (
            hook_body(prefetch={"c": {"resourceType": "Bundle", "entry": 5}}),
            "prefetch.c.entry",
        ),
        (
            hook_body(prefetch={"c": {"resourceType": "Bundle", "entry": [5]}}),
            "prefetch.c.entry[0]",
        ),
        (
            hook_body(prefetch={"c": {"resourceType": "Bundle", "entry": [{"resource": "x"}]}}),
            "prefetch.c.entry[0].resource",
        ),
        (
            hook_body(prefetch={"c": {"resourceType": "Bundle", "link": {"url": "x"}}}),
            "prefetch.c.link",
        ),
        (
            hook_body(prefetch={"c": {"resourceType": "Bundle", "link": [{"url": 3}]}}),
            "prefetch.c.link[0].url",
        ),
        (
            hook_body(prefetch={"c": {"resourceType": "OperationOutcome", "issue": 1}}),
            "prefetch.c.issue",
        ),
        (
            hook_body(
                prefetch={
                    "c": {
                        "resourceType": "Bundle",
                        "entry": [{"resource": {"resourceType": "OperationOutcome", "issue": [1]}}],
                    }
                }
            ),
            "prefetch.c.entry[0].resource.issue[0]",
        ),
    ],
)
def test_each_bad_request_names_its_field(body: object, field: str) -> None:
    with pytest.raises(BadRequest) as caught:
        HookRequest.from_json(body)
    assert caught.value.field == field


def test_hook_instance_is_normalised() -> None:
    request = HookRequest.from_json(hook_body(hookInstance=f"urn:uuid:{U1.upper()}"))
    assert request.hook_instance == U1


def test_feedback_uuids_are_normalised() -> None:
    items = parse_feedback(
        _fb(card=f"urn:uuid:{U1.upper()}", acceptedSuggestions=[{"id": U2.upper()}])
    )
    assert items[0].card == U1
    assert items[0].accepted_suggestions == (U2,)


def test_feedback_time_is_kept_in_utc() -> None:
    items = parse_feedback(_fb(outcomeTimestamp="2026-11-22T21:30:00-06:00"))
    assert items[0].outcome_timestamp.isoformat() == "2026-11-23T03:30:00+00:00"


def test_feedback_parses_accepted_and_overridden() -> None:
    items = parse_feedback(
        {
            "feedback": [
                {
                    "card": U1,
                    "outcome": "accepted",
                    "acceptedSuggestions": [{"id": U2}],
                    "outcomeTimestamp": "2026-11-22T21:30:00-06:00",
                },
                {
                    "card": U1,
                    "outcome": "overridden",
                    "overrideReason": {"reason": {"code": "x", "system": "s"}, "userComment": "c"},
                    "outcomeTimestamp": "2026-11-23T03:30:00Z",
                },
            ]
        }
    )
    assert items[0].accepted_suggestions == (U2,)
    assert items[1].override_reason is not None
    assert items[1].override_reason.reason == Coding("x", "s")
    assert items[0].outcome_timestamp == items[1].outcome_timestamp


def _fb(**overrides: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "card": U1,
        "outcome": "accepted",
        "acceptedSuggestions": [{"id": U2}],
        "outcomeTimestamp": "2026-11-22T21:30:00Z",
    }
    item.update(overrides)
    return {"feedback": [{k: v for k, v in item.items() if v is not None}]}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"feedback": []}, "feedback"),
        (_fb(card="nope"), "feedback[0].card"),
        (_fb(outcome="ignored"), "feedback[0].outcome"),
        (_fb(acceptedSuggestions=[]), "feedback[0].acceptedSuggestions"),
        (_fb(acceptedSuggestions=[{}]), "feedback[0].acceptedSuggestions[0].id"),
        (_fb(outcomeTimestamp="2026-11-22T21:30:00"), "feedback[0].outcomeTimestamp"),
        (_fb(outcomeTimestamp="2026-11-22"), "feedback[0].outcomeTimestamp"),
        (_fb(outcomeTimestamp="yesterday"), "feedback[0].outcomeTimestamp"),
        (
            _fb(outcome="overridden", overrideReason={"reason": {}}),
            "feedback[0].overrideReason.reason.code",
        ),
        # Past the last UTC instant: was an OverflowError (500).
        (_fb(outcomeTimestamp="9999-12-31T23:59:59-23:59"), "feedback[0].outcomeTimestamp"),
        ({"feedback": _fb()["feedback"] * (MAX_FEEDBACK_ITEMS + 1)}, "feedback"),
        (
            _fb(acceptedSuggestions=[{"id": U2}] * (MAX_ACCEPTED_SUGGESTIONS + 1)),
            "feedback[0].acceptedSuggestions",
        ),
        (_fb(acceptedSuggestions=[{"id": "s1"}]), "feedback[0].acceptedSuggestions[0].id"),
        (
            _fb(outcome="overridden", overrideReason={"userComment": "x" * (MAX_COMMENT + 1)}),
            "feedback[0].overrideReason.userComment",
        ),
        (
            _fb(outcome="overridden", overrideReason={"reason": {"code": "x" * 5000}}),
            "feedback[0].overrideReason.reason.code",
        ),
        (
            _fb(
                outcome="overridden",
                overrideReason={"reason": {"code": "x", "display": "y" * 5000}},
            ),
            "feedback[0].overrideReason.reason.display",
        ),
    ],
)
def test_each_bad_feedback_names_its_field(body: object, field: str) -> None:
    with pytest.raises(BadRequest) as caught:
        parse_feedback(body)
    assert caught.value.field == field


@pytest.mark.parametrize(
    ("response", "fragment"),
    [
        ({"cards": [{**card().to_json(), "summary": "x" * 140}]}, "summary"),
        ({"cards": [{**card().to_json(), "indicator": "red"}]}, "indicator"),
        ({"cards": [{k: v for k, v in card().to_json().items() if k != "uuid"}]}, "uuid"),
        ({"cards": [{**card().to_json(), "uuid": "1"}]}, "uuid"),
        ({"cards": [{**card().to_json(), "detail": None}]}, "null"),
        ({"cards": [{**card().to_json(), "links": []}]}, "empty list"),
        ({"cards": [{**card().to_json(), "detail": ""}]}, "empty string"),
        (
            {"cards": [{**card().to_json(), "suggestions": [{"label": "s", "uuid": U2}]}]},
            "selectionBehavior",
        ),
        ({"cards": [{**card().to_json(), "selectionBehavior": "any"}]}, "selectionBehavior"),
        (
            {
                "cards": [
                    {
                        **card().to_json(),
                        "links": [
                            {
                                "label": "l",
                                "url": "https://x.org",
                                "type": "absolute",
                                "appContext": "a",
                            }
                        ],
                    }
                ]
            },
            "appContext",
        ),
        (
            {
                "cards": [
                    {
                        **card().to_json(),
                        "links": [{"label": "l", "url": "https://x.org", "type": "iframe"}],
                    }
                ]
            },
            "type",
        ),
        ({}, "cards"),
    ],
)
def test_checker_reports_each_violation(response: dict[str, Any], fragment: str) -> None:
    problems = check_cards_response(response)
    assert any(fragment in p for p in problems), problems


def test_checker_accepts_no_cards() -> None:
    assert check_cards_response({"cards": []}) == []

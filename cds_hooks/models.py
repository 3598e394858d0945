"""CDS Hooks 2.0 request, card and feedback models.

Outgoing models validate in __post_init__ (ValueError: a programming error on our side);
incoming JSON is parsed by `HookRequest.from_json` / `parse_feedback`, which raise BadRequest
naming the offending field. `to_json()` omits None and empty fields, as the spec requires.
"""

from __future__ import annotations

import re
import uuid as uuidlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import urlsplit

from cds_hooks.errors import BadRequest

FHIR_ID = re.compile(r"[A-Za-z0-9\-\.]{1,64}")
# context.userId is "<ResourceType>/<id>"; it may be rendered into prefetch URLs.
USER_REFERENCE = re.compile(r"(Practitioner|PractitionerRole|Patient|RelatedPerson)/(.+)")
# The canonical 8-4-4-4-12 form in any case, optionally as a URN (RFC 4122 §3).
_UUID = re.compile(
    r"(?:urn:uuid:)?([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})", re.IGNORECASE
)
MAX_SUMMARY = 140
INDICATORS = ("info", "warning", "critical")
SELECTION_BEHAVIORS = ("at-most-one", "any")
ACTION_TYPES = ("create", "update", "delete")
LINK_TYPES = ("absolute", "smart")
OUTCOMES = ("accepted", "overridden")
# Feedback bounds: an EHR reports what one clinician did to a few cards, not an archive.
MAX_FEEDBACK_ITEMS = 100
MAX_ACCEPTED_SUGGESTIONS = 20
MAX_COMMENT = 4000
MAX_CODING_TEXT = 1024

Indicator = Literal["info", "warning", "critical"]
SelectionBehavior = Literal["at-most-one", "any"]
ActionType = Literal["create", "update", "delete"]
LinkType = Literal["absolute", "smart"]
Outcome = Literal["accepted", "overridden"]


def _compact(obj: Mapping[str, Any]) -> dict[str, Any]:
    """Drop None and empty values: CDS Hooks forbids null and empty fields."""
    return {k: v for k, v in obj.items() if v is not None and v not in ([], {}, "")}


def is_fhir_id(value: object) -> bool:
    """A FHIR R4 id; "." and ".." match the pattern but are path segments, not ids."""
    return isinstance(value, str) and bool(FHIR_ID.fullmatch(value)) and value not in (".", "..")


def normalise_uuid(value: object) -> str | None:
    """The lowercase canonical form of a UUID (a `urn:uuid:` prefix dropped); None if not one.

    One card written as `urn:uuid:…`, in capitals or plain is one card.
    """
    if not isinstance(value, str):
        return None
    match = _UUID.fullmatch(value)
    return match.group(1).lower() if match else None


def is_uuid(value: object) -> bool:
    if not isinstance(value, str):
        return False
    try:
        uuidlib.UUID(value)
    except ValueError:
        return False
    return True


def is_http_url(value: object) -> bool:
    if not isinstance(value, str):
        return False
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def _require_text(value: object, name: str) -> None:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name} must be a non-empty string")


@dataclass(frozen=True)
class Coding:
    code: str
    system: str | None = None
    display: str | None = None

    def __post_init__(self) -> None:
        _require_text(self.code, "Coding.code")

    def to_json(self) -> dict[str, Any]:
        return _compact({"code": self.code, "system": self.system, "display": self.display})


@dataclass(frozen=True)
class Source:
    label: str
    url: str | None = None
    icon: str | None = None
    topic: Coding | None = None

    def __post_init__(self) -> None:
        _require_text(self.label, "Source.label")
        for name in ("url", "icon"):
            value = getattr(self, name)
            if value is not None and not is_http_url(value):
                raise ValueError(f"Source.{name} must be an absolute http(s) URL")

    def to_json(self) -> dict[str, Any]:
        return _compact(
            {
                "label": self.label,
                "url": self.url,
                "icon": self.icon,
                "topic": self.topic.to_json() if self.topic else None,
            }
        )


@dataclass(frozen=True)
class Action:
    type: ActionType
    description: str
    resource: Mapping[str, Any] | None = None
    resource_id: str | None = None

    def __post_init__(self) -> None:
        if self.type not in ACTION_TYPES:
            raise ValueError(f"Action.type must be one of {ACTION_TYPES}")
        _require_text(self.description, "Action.description")
        if self.type in ("create", "update") and not self.resource:
            raise ValueError(f"Action.resource is required for {self.type}")
        if self.type == "delete" and not self.resource_id:
            raise ValueError("Action.resource_id is required for delete")

    def to_json(self) -> dict[str, Any]:
        return _compact(
            {
                "type": self.type,
                "description": self.description,
                "resource": dict(self.resource) if self.resource else None,
                "resourceId": self.resource_id,
            }
        )


@dataclass(frozen=True)
class Suggestion:
    label: str
    uuid: str
    actions: tuple[Action, ...] = ()
    is_recommended: bool | None = None

    def __post_init__(self) -> None:
        _require_text(self.label, "Suggestion.label")
        if not is_uuid(self.uuid):
            raise ValueError("Suggestion.uuid must be a UUID")

    def to_json(self) -> dict[str, Any]:
        return _compact(
            {
                "label": self.label,
                "uuid": self.uuid,
                "isRecommended": self.is_recommended,
                "actions": [a.to_json() for a in self.actions],
            }
        )


@dataclass(frozen=True)
class Link:
    label: str
    url: str
    type: LinkType
    app_context: str | None = None

    def __post_init__(self) -> None:
        _require_text(self.label, "Link.label")
        if not is_http_url(self.url):
            raise ValueError("Link.url must be an absolute http(s) URL")
        if self.type not in LINK_TYPES:
            raise ValueError(f"Link.type must be one of {LINK_TYPES}")
        if self.app_context is not None and self.type != "smart":
            raise ValueError("Link.app_context is only allowed on smart links")

    def to_json(self) -> dict[str, Any]:
        return _compact(
            {
                "label": self.label,
                "url": self.url,
                "type": self.type,
                "appContext": self.app_context,
            }
        )


@dataclass(frozen=True)
class Card:
    summary: str
    indicator: Indicator
    source: Source
    uuid: str
    detail: str | None = None
    suggestions: tuple[Suggestion, ...] = ()
    selection_behavior: SelectionBehavior | None = None
    override_reasons: tuple[Coding, ...] = ()
    links: tuple[Link, ...] = ()
    extension: Mapping[str, Any] | None = None

    def __post_init__(self) -> None:
        _require_text(self.summary, "Card.summary")
        if len(self.summary) >= MAX_SUMMARY:
            raise ValueError(f"Card.summary must be shorter than {MAX_SUMMARY} characters")
        if self.indicator not in INDICATORS:
            raise ValueError(f"Card.indicator must be one of {INDICATORS}")
        if not is_uuid(self.uuid):
            raise ValueError("Card.uuid must be a UUID")
        if self.selection_behavior is not None and (
            self.selection_behavior not in SELECTION_BEHAVIORS
        ):
            raise ValueError(f"Card.selection_behavior must be one of {SELECTION_BEHAVIORS}")
        if bool(self.suggestions) != (self.selection_behavior is not None):
            raise ValueError("Card.selection_behavior is required iff there are suggestions")
        if any(not reason.display for reason in self.override_reasons):
            raise ValueError("Card.override_reasons need a display")

    def to_json(self) -> dict[str, Any]:
        return _compact(
            {
                "uuid": self.uuid,
                "summary": self.summary,
                "detail": self.detail,
                "indicator": self.indicator,
                "source": self.source.to_json(),
                "suggestions": [s.to_json() for s in self.suggestions],
                "selectionBehavior": self.selection_behavior,
                "overrideReasons": [r.to_json() for r in self.override_reasons],
                "links": [link.to_json() for link in self.links],
                "extension": dict(self.extension) if self.extension else None,
            }
        )


def cards_response(cards: tuple[Card, ...] | list[Card]) -> dict[str, Any]:
    """The JSON body of a hook call response."""
    return {"cards": [card.to_json() for card in cards]}


# --- incoming requests -------------------------------------------------------------------


@dataclass(frozen=True)
class FhirAuthorization:
    access_token: str = field(repr=False)
    token_type: str
    expires_in: int
    scope: str
    subject: str
    patient: str | None = None


@dataclass(frozen=True)
class HookRequest:
    hook: str
    hook_instance: str
    context: Mapping[str, Any]
    fhir_server: str | None
    fhir_authorization: FhirAuthorization | None
    prefetch: Mapping[str, Any] | None

    @property
    def patient_id(self) -> str:
        return str(self.context["patientId"])

    @classmethod
    def from_json(cls, body: object) -> HookRequest:
        """Parse and validate a hook call body; raises BadRequest naming the field."""
        if not isinstance(body, dict):
            raise BadRequest("body", "must be a JSON object")
        hook = _string(body, "hook", "hook")
        hook_instance = normalise_uuid(body.get("hookInstance"))
        if hook_instance is None:
            raise BadRequest("hookInstance", "is required and must be a UUID")
        context = body.get("context")
        if not isinstance(context, dict):
            raise BadRequest("context", "must be a JSON object")
        patient_id = _string(context, "patientId", "context.patientId")
        if not is_fhir_id(patient_id):
            raise BadRequest(
                "context.patientId", "must be a FHIR id ([A-Za-z0-9-.]{1,64}, not . or ..)"
            )
        user_id = _string(context, "userId", "context.userId")
        user = USER_REFERENCE.fullmatch(user_id)
        if user is None or not is_fhir_id(user.group(2)):
            raise BadRequest("context.userId", "must be a reference like Practitioner/<id>")
        encounter_id = context.get("encounterId")
        if encounter_id is not None and not is_fhir_id(encounter_id):
            raise BadRequest("context.encounterId", "must be a FHIR id")
        fhir_server = body.get("fhirServer")
        if fhir_server is not None and not is_http_url(fhir_server):
            raise BadRequest("fhirServer", "must be an absolute http(s) URL")
        authorization = _parse_authorization(body.get("fhirAuthorization"))
        if authorization is not None and fhir_server is None:
            raise BadRequest("fhirServer", "is required when fhirAuthorization is given")
        prefetch = body.get("prefetch")
        if prefetch is not None:
            if not isinstance(prefetch, dict):
                raise BadRequest("prefetch", "must be a JSON object")
            for key, value in prefetch.items():
                if value is not None and not isinstance(value, dict):
                    raise BadRequest(f"prefetch.{key}", "must be a FHIR resource or null")
                problem = shape_problem(value) if value is not None else None
                if problem is not None:
                    where, message = problem
                    raise BadRequest(f"prefetch.{key}{where}", message)
        return cls(
            hook=hook,
            hook_instance=hook_instance,
            context=context,
            fhir_server=fhir_server,
            fhir_authorization=authorization,
            prefetch=prefetch,
        )


def shape_problem(resource: Mapping[str, Any]) -> tuple[str, str] | None:
    """(path, message) when a field the protocol layer walks has the wrong JSON type.

    Only Bundle.entry/link and OperationOutcome.issue (here and inside a Bundle's entries): the
    mappings read everything else defensively.
    """
    if resource.get("resourceType") == "OperationOutcome":
        return _list_of_objects(resource, "issue", "")
    if resource.get("resourceType") != "Bundle":
        return None
    for name in ("entry", "link"):
        problem = _list_of_objects(resource, name, "")
        if problem is not None:
            return problem
    for i, entry in enumerate(resource.get("entry") or []):
        inner = entry.get("resource")
        if inner is None:
            continue
        if not isinstance(inner, dict):
            return f".entry[{i}].resource", "must be a JSON object"
        if inner.get("resourceType") == "OperationOutcome":
            problem = _list_of_objects(inner, "issue", f".entry[{i}].resource")
            if problem is not None:
                return problem
    for i, link in enumerate(resource.get("link") or []):
        if not isinstance(link.get("url", ""), str):
            return f".link[{i}].url", "must be a string"
    return None


def _list_of_objects(obj: Mapping[str, Any], key: str, prefix: str) -> tuple[str, str] | None:
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, list):
        return f"{prefix}.{key}", "must be a list"
    for i, item in enumerate(value):
        if not isinstance(item, dict):
            return f"{prefix}.{key}[{i}]", "must be a JSON object"
    return None


def _string(obj: Mapping[str, Any], key: str, name: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str) or not value.strip():
        raise BadRequest(name, "is required and must be a non-empty string")
    return value


def _parse_authorization(raw: object) -> FhirAuthorization | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise BadRequest("fhirAuthorization", "must be a JSON object")
    prefix = "fhirAuthorization."
    token = _string(raw, "access_token", prefix + "access_token")
    token_type = _string(raw, "token_type", prefix + "token_type")
    if token_type != "Bearer":  # noqa: S105 - a token type, not a secret
        raise BadRequest(prefix + "token_type", "must be 'Bearer'")
    expires_in = raw.get("expires_in")
    if isinstance(expires_in, bool) or not isinstance(expires_in, int) or expires_in <= 0:
        raise BadRequest(prefix + "expires_in", "must be a positive integer")
    scope = _string(raw, "scope", prefix + "scope")
    subject = _string(raw, "subject", prefix + "subject")
    patient = raw.get("patient")
    if patient is not None and not is_fhir_id(patient):
        raise BadRequest(prefix + "patient", "must be a FHIR id")
    return FhirAuthorization(token, token_type, expires_in, scope, subject, patient)


# --- feedback ------------------------------------------------------------------------------


@dataclass(frozen=True)
class OverrideReason:
    reason: Coding | None = None
    user_comment: str | None = None


@dataclass(frozen=True)
class FeedbackItem:
    card: str
    outcome: Outcome
    outcome_timestamp: datetime
    accepted_suggestions: tuple[str, ...] = ()
    override_reason: OverrideReason | None = None


def parse_feedback(body: object) -> list[FeedbackItem]:
    """Parse a feedback POST body; raises BadRequest naming the field.

    Card and suggestion uuids come out normalised (lowercase, no `urn:uuid:`), times in UTC.
    """
    if not isinstance(body, dict):
        raise BadRequest("body", "must be a JSON object")
    raw_items = body.get("feedback")
    if not isinstance(raw_items, list) or not raw_items:
        raise BadRequest("feedback", "must be a non-empty list")
    if len(raw_items) > MAX_FEEDBACK_ITEMS:
        raise BadRequest("feedback", f"must hold at most {MAX_FEEDBACK_ITEMS} items")
    return [_parse_feedback_item(raw, f"feedback[{i}]") for i, raw in enumerate(raw_items)]


def _parse_feedback_item(raw: object, path: str) -> FeedbackItem:
    if not isinstance(raw, dict):
        raise BadRequest(path, "must be a JSON object")
    card = normalise_uuid(raw.get("card"))
    if card is None:
        raise BadRequest(f"{path}.card", "must be the UUID of a card")
    outcome = raw.get("outcome")
    if outcome not in OUTCOMES:
        raise BadRequest(f"{path}.outcome", f"must be one of {OUTCOMES}")
    stamp = _string(raw, "outcomeTimestamp", f"{path}.outcomeTimestamp")
    try:
        timestamp = datetime.fromisoformat(stamp)
    except ValueError:
        raise BadRequest(f"{path}.outcomeTimestamp", "must be an ISO 8601 date-time") from None
    if timestamp.tzinfo is None or "T" not in stamp:
        raise BadRequest(f"{path}.outcomeTimestamp", "must be a date-time with a UTC offset")
    try:
        timestamp = timestamp.astimezone(UTC)
    except OverflowError:  # e.g. 9999-12-31T23:59:59-23:59 is past the last UTC instant
        raise BadRequest(f"{path}.outcomeTimestamp", "is out of range") from None
    accepted: tuple[str, ...] = ()
    override: OverrideReason | None = None
    if outcome == "accepted":
        accepted = _parse_accepted(raw.get("acceptedSuggestions"), f"{path}.acceptedSuggestions")
    else:
        override = _parse_override(raw.get("overrideReason"), f"{path}.overrideReason")
    return FeedbackItem(
        card=card,
        outcome="accepted" if outcome == "accepted" else "overridden",
        outcome_timestamp=timestamp,
        accepted_suggestions=accepted,
        override_reason=override,
    )


def _parse_accepted(raw: object, path: str) -> tuple[str, ...]:
    if not isinstance(raw, list) or not raw:
        raise BadRequest(path, "must be a non-empty list")
    if len(raw) > MAX_ACCEPTED_SUGGESTIONS:
        raise BadRequest(path, f"must hold at most {MAX_ACCEPTED_SUGGESTIONS} items")
    ids: list[str] = []
    for j, item in enumerate(raw):
        sid = normalise_uuid(item.get("id") if isinstance(item, dict) else None)
        if sid is None:
            raise BadRequest(f"{path}[{j}].id", "is required and must be the UUID of a suggestion")
        ids.append(sid)
    return tuple(ids)


def _parse_override(raw: object, path: str) -> OverrideReason | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise BadRequest(path, "must be a JSON object")
    reason: Coding | None = None
    raw_reason = raw.get("reason")
    if raw_reason is not None:
        if not isinstance(raw_reason, dict):
            raise BadRequest(f"{path}.reason", "must be a Coding")
        code = _bounded(_string(raw_reason, "code", f"{path}.reason.code"), f"{path}.reason.code")
        system = _optional_text(raw_reason.get("system"), f"{path}.reason.system")
        display = _optional_text(raw_reason.get("display"), f"{path}.reason.display")
        reason = Coding(code, system, display)
    comment = raw.get("userComment")
    if comment is not None and not isinstance(comment, str):
        raise BadRequest(f"{path}.userComment", "must be a string")
    if comment is not None and len(comment) > MAX_COMMENT:
        raise BadRequest(f"{path}.userComment", f"must be at most {MAX_COMMENT} characters")
    return OverrideReason(reason, comment)


def _optional_text(value: object, path: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadRequest(path, "must be a string")
    return _bounded(value, path)


def _bounded(value: str, path: str) -> str:
    if len(value) > MAX_CODING_TEXT:
        raise BadRequest(path, f"must be at most {MAX_CODING_TEXT} characters")
    return value


# --- response checking ----------------------------------------------------------------------


def check_cards_response(obj: object) -> list[str]:
    """Every CDS Hooks 2.0 rule a hook response JSON breaks; empty when it conforms."""
    problems: list[str] = []
    if not isinstance(obj, dict):
        return ["response: must be a JSON object"]
    _check_no_empty(obj, "response", problems)
    cards = obj.get("cards")
    if not isinstance(cards, list):
        problems.append("cards: required list")
        cards = []
    unknown = set(obj) - {"cards", "systemActions"}
    if unknown:
        problems.append(f"response: unknown fields {sorted(unknown)}")
    for i, card in enumerate(cards):
        _check_card(card, f"cards[{i}]", problems)
    for i, action in enumerate(obj.get("systemActions") or []):
        _check_action(action, f"systemActions[{i}]", problems)
    return problems


def _check_no_empty(value: object, path: str, problems: list[str]) -> None:
    if value is None:
        problems.append(f"{path}: null is not allowed")
    elif isinstance(value, dict):
        for key, item in value.items():
            # FHIR resources follow FHIR's rules; an extension's content is its owner's.
            if key not in ("resource", "extension"):
                _check_no_empty(item, f"{path}.{key}", problems)
    elif isinstance(value, list):
        if not value and path != "response.cards":
            problems.append(f"{path}: empty list is not allowed")
        for i, item in enumerate(value):
            _check_no_empty(item, f"{path}[{i}]", problems)
    elif isinstance(value, str) and not value:
        problems.append(f"{path}: empty string is not allowed")


def _check_card(card: object, path: str, problems: list[str]) -> None:
    if not isinstance(card, dict):
        problems.append(f"{path}: must be an object")
        return
    summary = card.get("summary")
    if not isinstance(summary, str) or not summary:
        problems.append(f"{path}.summary: required string")
    elif len(summary) >= MAX_SUMMARY:
        problems.append(f"{path}.summary: must be shorter than {MAX_SUMMARY} characters")
    if card.get("indicator") not in INDICATORS:
        problems.append(f"{path}.indicator: must be one of {INDICATORS}")
    if not is_uuid(card.get("uuid")):
        problems.append(f"{path}.uuid: required UUID")
    source = card.get("source")
    if not isinstance(source, dict) or not isinstance(source.get("label"), str):
        problems.append(f"{path}.source.label: required string")
    else:
        for key in ("url", "icon"):
            if key in source and not is_http_url(source[key]):
                problems.append(f"{path}.source.{key}: must be an absolute http(s) URL")
    suggestions = card.get("suggestions")
    behavior = card.get("selectionBehavior")
    if suggestions and behavior not in SELECTION_BEHAVIORS:
        problems.append(
            f"{path}.selectionBehavior: required with suggestions, one of {SELECTION_BEHAVIORS}"
        )
    if not suggestions and behavior is not None:
        problems.append(f"{path}.selectionBehavior: only allowed with suggestions")
    for i, suggestion in enumerate(suggestions or []):
        spath = f"{path}.suggestions[{i}]"
        if not isinstance(suggestion, dict):
            problems.append(f"{spath}: must be an object")
            continue
        if not isinstance(suggestion.get("label"), str):
            problems.append(f"{spath}.label: required string")
        if "uuid" in suggestion and not is_uuid(suggestion["uuid"]):
            problems.append(f"{spath}.uuid: must be a UUID")
        for j, action in enumerate(suggestion.get("actions") or []):
            _check_action(action, f"{spath}.actions[{j}]", problems)
    for i, reason in enumerate(card.get("overrideReasons") or []):
        rpath = f"{path}.overrideReasons[{i}]"
        if not isinstance(reason, dict) or not all(
            isinstance(reason.get(k), str) for k in ("code", "display")
        ):
            problems.append(f"{rpath}: needs code and display")
    for i, link in enumerate(card.get("links") or []):
        lpath = f"{path}.links[{i}]"
        if not isinstance(link, dict):
            problems.append(f"{lpath}: must be an object")
            continue
        if not isinstance(link.get("label"), str):
            problems.append(f"{lpath}.label: required string")
        if not is_http_url(link.get("url")):
            problems.append(f"{lpath}.url: must be an absolute http(s) URL")
        if link.get("type") not in LINK_TYPES:
            problems.append(f"{lpath}.type: must be one of {LINK_TYPES}")
        if "appContext" in link and link.get("type") != "smart":
            problems.append(f"{lpath}.appContext: only allowed on smart links")


def _check_action(action: object, path: str, problems: list[str]) -> None:
    if not isinstance(action, dict):
        problems.append(f"{path}: must be an object")
        return
    kind = action.get("type")
    if kind not in ACTION_TYPES:
        problems.append(f"{path}.type: must be one of {ACTION_TYPES}")
    if not isinstance(action.get("description"), str):
        problems.append(f"{path}.description: required string")
    if kind in ("create", "update") and not isinstance(action.get("resource"), dict):
        problems.append(f"{path}.resource: required for {kind}")
    if kind == "delete" and not isinstance(action.get("resourceId"), str):
        problems.append(f"{path}.resourceId: required for delete")

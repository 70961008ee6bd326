"""The bodies of journal hook deliveries: the hub's own JSON, and HL7 FHIR.

A body carries what a journal needs to file the entry and nothing more: the message
(subject, text, the attachments' names and sizes; the files themselves are fetched
through the API), who sent it, and whom it is about: the personnummer and name where
the receiving organization may see them, else the person's pseudonym. Bodies are built
once, at an item's first attempt, and kept, so every retry sends the same bytes.

The FHIR form is a `Communication` built and validated with `fhir.resources`. It uses
its R4B models: the package has no 4.0.1 models on pydantic 2, and `Communication` is
the same in R4 and R4B.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from hub.domain.vocabulary import HookEvent, Priority

# The Swedish national identifiers (Inera's OIDs): personnummer and samordningsnummer.
PERSONNUMMER_SYSTEM = "urn:oid:1.2.752.129.2.1.3.1"
SAMORDNINGSNUMMER_SYSTEM = "urn:oid:1.2.752.129.2.1.3.3"
URI_SYSTEM = "urn:ietf:rfc:3986"
CATEGORY_SYSTEM = "urn:omsorgshubben:message-category"
STEP_SYSTEM = "urn:omsorgshubben:routine-step"
PSEUDONYM_SYSTEM = "urn:omsorgshubben:pseudonym"


@dataclass(frozen=True)
class PersonShown:
    """The person as the receiving organization may see them: the identity, or only
    the pseudonym (a protected identity, where that organization is not engaged)."""

    personnummer: str | None
    name: str | None
    pseudonym: str | None


@dataclass(frozen=True)
class MessageFacts:
    id: uuid.UUID
    thread_id: uuid.UUID
    reply_to_id: uuid.UUID | None
    sent_at: dt.datetime
    category: str
    priority: str
    routine_step: str | None
    requires_ack: bool
    ack_deadline: dt.datetime | None
    subject: str
    body: str
    attachments: list[dict[str, Any]]
    sender_organization_id: uuid.UUID
    sender_organization: str
    sender_unit: str | None
    # None where a protected name is not shown outside its organization.
    sender_name: str | None


@dataclass(frozen=True)
class Acknowledgement:
    organization_id: uuid.UUID
    organization: str
    unit: str | None
    name: str | None
    at: dt.datetime


@dataclass(frozen=True)
class ConsentFacts:
    id: uuid.UUID
    method: str
    scope: str
    organizations: list[str]
    valid_from: dt.date
    valid_to: dt.date | None
    recorded_at: dt.datetime
    withdrawn_at: dt.datetime | None


@dataclass(frozen=True)
class Delivery:
    """One outbox item, as its body describes it."""

    id: uuid.UUID
    event: HookEvent
    created_at: dt.datetime
    organization_id: uuid.UUID
    organization: str
    person: PersonShown | None = None
    message: MessageFacts | None = None
    acknowledgement: Acknowledgement | None = None
    consent: ConsentFacts | None = None
    requested_by: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def encode(document: dict[str, Any]) -> bytes:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


def native(delivery: Delivery) -> dict[str, Any]:
    """The hub's own form: Standard Webhooks' `type`, `timestamp` and `data`."""
    data: dict[str, Any] = {
        "delivery_id": str(delivery.id),
        "organization": {"id": str(delivery.organization_id),
                         "name": delivery.organization},
        "person": _person(delivery.person),
    }
    if delivery.message is not None:
        data["message"] = _message(delivery.message)
    if delivery.acknowledgement is not None:
        ack = delivery.acknowledgement
        data["acknowledged"] = {
            "organization": {"id": str(ack.organization_id), "name": ack.organization},
            "unit": ack.unit, "by": ack.name, "at": ack.at.isoformat()}
    if delivery.consent is not None:
        consent = delivery.consent
        data["consent"] = {
            "id": str(consent.id), "method": consent.method, "scope": consent.scope,
            "organizations": consent.organizations,
            "valid_from": consent.valid_from.isoformat(),
            "valid_to": consent.valid_to.isoformat() if consent.valid_to else None,
            "recorded_at": consent.recorded_at.isoformat(),
            "withdrawn_at": consent.withdrawn_at.isoformat() if consent.withdrawn_at else None,
        }
    if delivery.requested_by is not None:
        data["requested_by"] = delivery.requested_by
    return {"type": delivery.event.value, "timestamp": delivery.created_at.isoformat(),
            "data": data}


def fhir(delivery: Delivery) -> dict[str, Any]:
    """An HL7 FHIR `Communication`, validated. For a message (received, or an
    assignment step) it is the message; for an acknowledgement, a communication in
    response to the message.

    Raises:
        ValueError: an event without a message (FHIR endpoints take only those).
    """
    message = delivery.message
    if message is None:
        raise ValueError(f"{delivery.event} has no FHIR form")
    resource: dict[str, Any] = {
        "resourceType": "Communication",
        "id": str(delivery.id),
        "identifier": [{"system": URI_SYSTEM, "value": f"urn:uuid:{delivery.id}"}],
        "status": "completed",
        "category": [{"coding": [{"system": CATEGORY_SYSTEM, "code": message.category}]}],
        "priority": "urgent" if message.priority == Priority.URGENT else "routine",
        "recipient": [{"identifier": {"system": URI_SYSTEM,
                                      "value": f"urn:uuid:{delivery.organization_id}"},
                       "display": delivery.organization}],
    }
    subject = _fhir_subject(delivery.person)
    if subject is not None:
        resource["subject"] = subject
    original = {"identifier": {"system": URI_SYSTEM, "value": f"urn:uuid:{message.id}"}}
    if delivery.acknowledgement is not None:
        ack = delivery.acknowledgement
        resource["inResponseTo"] = [original]
        resource["sent"] = ack.at.isoformat()
        resource["sender"] = _fhir_party(ack.organization_id, ack.organization, ack.unit,
                                         ack.name)
        resource["topic"] = {"text": message.subject}
        resource["payload"] = [{"contentString": "Kvitterat"}]
    else:
        resource["identifier"].append(original["identifier"])
        resource["sent"] = message.sent_at.isoformat()
        resource["sender"] = _fhir_party(message.sender_organization_id,
                                         message.sender_organization, message.sender_unit,
                                         message.sender_name)
        resource["topic"] = {"text": message.subject}
        if message.routine_step is not None:
            resource["reasonCode"] = [{"coding": [{"system": STEP_SYSTEM,
                                                   "code": message.routine_step}]}]
        if message.reply_to_id is not None:
            resource["inResponseTo"] = [{"identifier": {
                "system": URI_SYSTEM, "value": f"urn:uuid:{message.reply_to_id}"}}]
        # FHIR has no empty strings: a message of a subject alone has no text part.
        resource["payload"] = ([{"contentString": message.body}] if message.body else []) + [
            {"contentAttachment": {"contentType": a["content_type"], "title": a["filename"],
                                   "size": a["size"]}}
            for a in message.attachments]
    # Imported here, not at the top: its models are thousands of classes, and a hub
    # with no FHIR endpoint never needs them.
    from fhir.resources.R4B.communication import Communication

    return Communication.model_validate(resource).model_dump(mode="json", exclude_none=True)


def _person(person: PersonShown | None) -> dict[str, Any] | None:
    if person is None:
        return None
    if person.personnummer is None:
        return {"pseudonym": person.pseudonym}
    return {"personnummer": person.personnummer, "name": person.name}


def _message(message: MessageFacts) -> dict[str, Any]:
    return {
        "id": str(message.id), "thread_id": str(message.thread_id),
        "reply_to_id": str(message.reply_to_id) if message.reply_to_id else None,
        "sent_at": message.sent_at.isoformat(), "category": message.category,
        "priority": message.priority, "routine_step": message.routine_step,
        "requires_ack": message.requires_ack,
        "ack_deadline": message.ack_deadline.isoformat() if message.ack_deadline else None,
        "subject": message.subject, "body": message.body, "attachments": message.attachments,
        "sender": {"organization": {"id": str(message.sender_organization_id),
                                    "name": message.sender_organization},
                   "unit": message.sender_unit, "name": message.sender_name},
    }


def _fhir_subject(person: PersonShown | None) -> dict[str, Any] | None:
    if person is None:
        return None
    if person.personnummer is None:
        return {"identifier": {"system": PSEUDONYM_SYSTEM, "value": person.pseudonym}}
    # A samordningsnummer has 60 added to the day of birth.
    day = int(person.personnummer[6:8])
    system = SAMORDNINGSNUMMER_SYSTEM if day > 60 else PERSONNUMMER_SYSTEM
    return {"identifier": {"system": system, "value": person.personnummer},
            "display": person.name}


def _fhir_party(organization_id: uuid.UUID, organization: str, unit: str | None,
                name: str | None) -> dict[str, Any]:
    display = ", ".join(p for p in (name, unit, organization) if p)
    return {"identifier": {"system": URI_SYSTEM, "value": f"urn:uuid:{organization_id}"},
            "display": display}

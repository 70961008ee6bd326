"""May this message go? Pure functions over facts the service loads.

The rules are a table (`RULES`), evaluated in order for every addressed group; the
first rule that fails for a group is its refusal, which names the rule and the
group, in Swedish and English. Messages that are not about a person skip the
person rules. An emergency override (nödåtkomst) sets aside the rules marked
overridable: the message goes, and the decision lists what was set aside so the
service can put it in the compliance officer's review queue.

Nothing here touches the database or the clock: the service gathers `SendFacts`
in its transaction (with the moment of the send) and acts on the `Decision`.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from hub.domain.localtime import local_date


class Rule(StrEnum):
    CARE_RELATIONSHIP = "care_relationship"
    CONSENT = "consent"


@dataclass(frozen=True)
class OrgFacts:
    organization_id: uuid.UUID
    # The huvudman's organisationsnummer; the city's services share one.
    authority: str
    # The organization has an engagement with the person that is active today.
    engaged: bool


@dataclass(frozen=True)
class RecipientFacts:
    group_id: uuid.UUID
    organization: OrgFacts


@dataclass(frozen=True)
class ConsentFacts:
    """One recorded consent of the person, withdrawn or not."""

    all_involved: bool
    organizations: frozenset[uuid.UUID]
    valid_from: dt.date
    valid_to: dt.date | None = None
    withdrawn_at: dt.datetime | None = None


@dataclass(frozen=True)
class SendFacts:
    about_person: bool
    sender: OrgFacts
    recipients: tuple[RecipientFacts, ...]
    # The moment of the send (aware); consent periods are Swedish calendar days.
    at: dt.datetime
    consents: tuple[ConsentFacts, ...] = ()


@dataclass(frozen=True)
class Refusal:
    rule: Rule
    group_id: uuid.UUID
    reason_sv: str
    reason_en: str


@dataclass(frozen=True)
class Decision:
    # What stops the message; empty when it may go.
    refusals: tuple[Refusal, ...]
    # What an emergency override set aside (the message goes).
    overridden: tuple[Refusal, ...] = field(default=())

    @property
    def allowed(self) -> bool:
        return not self.refusals


Check = Callable[[SendFacts, RecipientFacts], Refusal | None]


@dataclass(frozen=True)
class RuleSpec:
    rule: Rule
    # Only for messages about a person.
    person_only: bool
    # An emergency override may set it aside.
    overridable: bool
    check: Check


def _care_relationship(facts: SendFacts, recipient: RecipientFacts) -> Refusal | None:
    if not facts.sender.engaged:
        return Refusal(
            Rule.CARE_RELATIONSHIP, recipient.group_id,
            "Din organisation har ingen pågående insats för personen.",
            "Your organization has no active engagement with the person.")
    if not recipient.organization.engaged:
        return Refusal(
            Rule.CARE_RELATIONSHIP, recipient.group_id,
            "Mottagarens organisation har ingen pågående insats för personen.",
            "The recipient's organization has no active engagement with the person.")
    return None


def consent_in_force(consent: ConsentFacts, at: dt.datetime) -> bool:
    """Recorded as valid on the Swedish calendar day of `at`, and not withdrawn by then."""
    if consent.withdrawn_at is not None and consent.withdrawn_at <= at:
        return False
    day = local_date(at)
    return consent.valid_from <= day and (consent.valid_to is None or day <= consent.valid_to)


def consent_covers(consent: ConsentFacts, recipient: OrgFacts) -> bool:
    """The consent's scope includes the recipient organization."""
    if consent.all_involved:
        return recipient.engaged
    return recipient.organization_id in consent.organizations


def _consent(facts: SendFacts, recipient: RecipientFacts) -> Refusal | None:
    if recipient.organization.authority == facts.sender.authority:
        return None  # one authority (the city's own services): no consent needed
    covering = [c for c in facts.consents if consent_covers(c, recipient.organization)]
    if any(consent_in_force(c, facts.at) for c in covering):
        return None
    day = local_date(facts.at)
    if any(c.withdrawn_at is not None and c.withdrawn_at <= facts.at for c in covering):
        sv, en = ("Personen har återkallat sitt samtycke till mottagarens organisation.",
                  "The person has withdrawn their consent for the recipient's organization.")
    elif any(c.valid_from > day for c in covering):
        sv, en = ("Personens samtycke till mottagarens organisation gäller inte ännu.",
                  "The person's consent for the recipient's organization is not yet valid.")
    elif covering:
        sv, en = ("Personens samtycke till mottagarens organisation har gått ut.",
                  "The person's consent for the recipient's organization has expired.")
    else:
        sv, en = ("Mottagaren har en annan huvudman och personen har inget samtycke som "
                  "omfattar mottagarens organisation.",
                  "The recipient is under another authority and the person has no consent "
                  "covering the recipient's organization.")
    return Refusal(Rule.CONSENT, recipient.group_id, sv, en)


# The rule table, in the order the rules are tried.
RULES: tuple[RuleSpec, ...] = (
    RuleSpec(Rule.CARE_RELATIONSHIP, person_only=True, overridable=True,
             check=_care_relationship),
    RuleSpec(Rule.CONSENT, person_only=True, overridable=True, check=_consent),
)


def evaluate_send(facts: SendFacts, emergency_override: bool = False) -> Decision:
    """Apply every rule to every addressed group; the first failing rule per group counts.

    With `emergency_override`, refusals by overridable rules move to `overridden`;
    any refusal by a rule that cannot be overridden still stops the message.
    """
    refusals: list[Refusal] = []
    overridden: list[Refusal] = []
    for recipient in facts.recipients:
        for spec in RULES:
            if spec.person_only and not facts.about_person:
                continue
            refusal = spec.check(facts, recipient)
            if refusal is None:
                continue
            if emergency_override and spec.overridable:
                overridden.append(refusal)
                continue  # set aside: the group's later rules still apply
            refusals.append(refusal)
            break
    if refusals:
        return Decision(tuple(refusals))
    return Decision((), tuple(overridden))

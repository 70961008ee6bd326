"""May this message go? Pure functions over facts the service loads.

The rules are a table (`RULES`), evaluated in order for every addressed group; a
refusal names the rule and the group, in Swedish and English. Messages that are not
about a person skip the person rules. Nothing here touches the database or the clock:
the service gathers `SendFacts` in its transaction and acts on the `Decision`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum


class Rule(StrEnum):
    CARE_RELATIONSHIP = "care_relationship"


@dataclass(frozen=True)
class OrgFacts:
    organization_id: uuid.UUID
    authority: str
    # The organization has an engagement with the person that is active today.
    engaged: bool


@dataclass(frozen=True)
class RecipientFacts:
    group_id: uuid.UUID
    organization: OrgFacts


@dataclass(frozen=True)
class SendFacts:
    about_person: bool
    sender: OrgFacts
    recipients: tuple[RecipientFacts, ...]


@dataclass(frozen=True)
class Refusal:
    rule: Rule
    group_id: uuid.UUID
    reason_sv: str
    reason_en: str


@dataclass(frozen=True)
class Decision:
    refusals: tuple[Refusal, ...]

    @property
    def allowed(self) -> bool:
        return not self.refusals


Check = Callable[[SendFacts, RecipientFacts], Refusal | None]


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


# (rule, applies only to messages about a person, check)
RULES: tuple[tuple[Rule, bool, Check], ...] = (
    (Rule.CARE_RELATIONSHIP, True, _care_relationship),
)


def evaluate_send(facts: SendFacts) -> Decision:
    """Apply every rule to every addressed group; the first failing rule per group counts."""
    refusals = []
    for recipient in facts.recipients:
        for _rule, person_only, check in RULES:
            if person_only and not facts.about_person:
                continue
            refusal = check(facts, recipient)
            if refusal is not None:
                refusals.append(refusal)
                break
    return Decision(tuple(refusals))

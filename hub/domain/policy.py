"""May this message go? Pure functions over facts the service loads.

The rules are a table (`RULES`), evaluated in order for every addressed group; the
first rule that fails for a group is its refusal, which names the rule and the
group, in Swedish and English. The rules: a care relationship (the sender's and
the recipient's organizations are engaged with the person, or parties to an
assignment for them), then a legal basis: the first row of the table of bases
(`legal_bases.toml`: one organization, the assignment relationship for the
assignment's steps and reports, a change of provider for its takeover messages, a
notice to home health care, a secrecy community, the person's consent) that holds for
the group. Messages that are not about a person skip the
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

from hub.domain.bases import TABLE, Basis, BasisKind, Side
from hub.domain.localtime import local_date
from hub.domain.roles import OrgKind
from hub.domain.vocabulary import RoutineStep


class Rule(StrEnum):
    CARE_RELATIONSHIP = "care_relationship"
    LEGAL_BASIS = "legal_basis"


@dataclass(frozen=True)
class OrgFacts:
    organization_id: uuid.UUID
    kind: OrgKind
    # The organization has an engagement with the person that is active today, or
    # upcoming (an incoming provider before takeover).
    engaged: bool
    # The secrecy communities (ids of the table's) it is configured into.
    communities: frozenset[str] = frozenset()


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
class AssignmentFacts:
    """An assignment for the person in force: who distributed it, to whom."""

    case_management: uuid.UUID  # the distributing case-management organization
    provider: uuid.UUID  # the organization of the chosen provider's unit
    # the alarm and night patrol service that gave it as an urgent start on the case
    # management's behalf (not a party to it).
    urgent_by: uuid.UUID | None = None


@dataclass(frozen=True)
class ChangeFacts:
    """A change of provider for the person that has not taken over yet."""

    case_management: uuid.UUID
    outgoing: uuid.UUID
    incoming: uuid.UUID

    @property
    def parties(self) -> tuple[uuid.UUID, uuid.UUID, uuid.UUID]:
        return (self.case_management, self.outgoing, self.incoming)


@dataclass(frozen=True)
class SendFacts:
    about_person: bool
    sender: OrgFacts
    recipients: tuple[RecipientFacts, ...]
    # The moment of the send (aware); consent periods are Swedish calendar days.
    at: dt.datetime
    consents: tuple[ConsentFacts, ...] = ()
    # The routine step the message carries, if any.
    step: RoutineStep | None = None
    assignments: tuple[AssignmentFacts, ...] = ()
    changes: tuple[ChangeFacts, ...] = ()
    # The message carries attachments (documents).
    attachments: bool = False


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
    # The legal basis found for each addressed group (messages about a person).
    bases: tuple[tuple[uuid.UUID, str], ...] = field(default=())

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


def related(facts: SendFacts, org: OrgFacts) -> bool:
    """A care relationship with the person: engaged (see `hub.domain.care.engaged_on`),
    or a party to an assignment for the person in force, or to a change of provider."""
    return org.engaged or any(org.organization_id in (a.case_management, a.provider)
                              for a in facts.assignments) \
        or any(org.organization_id in c.parties for c in facts.changes)


def _care_relationship(facts: SendFacts, recipient: RecipientFacts) -> Refusal | None:
    if not related(facts, facts.sender):
        return Refusal(
            Rule.CARE_RELATIONSHIP, recipient.group_id,
            "Din organisation har ingen pågående insats för personen.",
            "Your organization has no active engagement with the person.")
    if not related(facts, recipient.organization):
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


def consent_covers(consent: ConsentFacts, recipient: OrgFacts, involved: bool) -> bool:
    """The consent's scope includes the recipient organization; `involved`: it has a
    care relationship with the person (see `related`)."""
    if consent.all_involved:
        return involved
    return recipient.organization_id in consent.organizations


def _sends(side: Side, assignment: AssignmentFacts, sender: uuid.UUID,
           recipient: uuid.UUID) -> bool:
    forward = (assignment.case_management, assignment.provider) == (sender, recipient)
    backward = (assignment.provider, assignment.case_management) == (sender, recipient)
    if side is Side.CASE_MANAGEMENT:
        return forward
    if side is Side.PROVIDER:
        return backward
    return forward or backward


def _party(side: Side, facts: SendFacts, sender: uuid.UUID) -> bool:
    """The sender is that side of an assignment for the person (the alarm service that
    gave it as an urgent start on the case management's side), or, for a provider
    change's own step, of a change of provider (its outgoing provider as the
    provider): only the outgoing provider of a change tells of it."""
    if facts.step is RoutineStep.PROVIDER_CHANGE:
        case_management = {c.case_management for c in facts.changes}
        providers = {c.outgoing for c in facts.changes}
    else:
        # The alarm service that gave an urgent start acts for the case management.
        case_management = {a.case_management for a in facts.assignments} | {
            a.urgent_by for a in facts.assignments if a.urgent_by is not None}
        providers = {a.provider for a in facts.assignments}
    if side is Side.CASE_MANAGEMENT:
        return sender in case_management
    if side is Side.PROVIDER:
        return sender in providers
    return sender in case_management | providers


def basis_holds(basis: Basis, facts: SendFacts, recipient: OrgFacts) -> bool:
    """Whether `basis` (a row of the table) lets the sender tell `recipient` about the
    person. The one place that says what each kind of basis means."""
    sender = facts.sender
    if facts.attachments and not basis.attachments:
        return False
    side = basis.steps.get(facts.step) if facts.step is not None else None
    match basis.kind:
        case BasisKind.SAME_ORGANIZATION:
            return sender.organization_id == recipient.organization_id
        case BasisKind.ASSIGNMENT:
            return side is not None and any(
                _sends(side, a, sender.organization_id, recipient.organization_id)
                for a in facts.assignments)
        case BasisKind.NOTICE:
            return side is not None and recipient.kind is basis.to_kind \
                and recipient.engaged and _party(side, facts, sender.organization_id)
        case BasisKind.URGENT_START:
            return side is not None and any(
                a.urgent_by is not None and sender.organization_id == a.urgent_by
                and recipient.organization_id in (a.case_management, a.provider)
                for a in facts.assignments)
        case BasisKind.PROVIDER_CHANGE:
            return side is not None and sender.organization_id != recipient.organization_id \
                and any(sender.organization_id in c.parties
                        and recipient.organization_id in c.parties for c in facts.changes)
        case BasisKind.COMMUNITY:
            return bool(sender.communities & recipient.communities)
        case BasisKind.CONSENT:
            involved = related(facts, recipient)
            return any(consent_covers(c, recipient, involved) and consent_in_force(c, facts.at)
                       for c in facts.consents)
    raise AssertionError(basis.kind)


def legal_basis(facts: SendFacts, recipient: OrgFacts) -> Basis | None:
    """The first basis of the table that holds, or None."""
    return next((b for b in TABLE.bases if basis_holds(b, facts, recipient)), None)


_NO_BASIS_SV = ("Det finns ingen rättslig grund att lämna uppgifter om personen till "
                "mottagarens organisation (uppdragsrelation, sekretessgemenskap eller "
                "samtycke): ")
_NO_BASIS_EN = ("There is no legal basis for telling the recipient's organization about "
                "the person (an assignment relationship, a secrecy community or consent): ")


def _legal_basis(facts: SendFacts, recipient: RecipientFacts) -> Refusal | None:
    if legal_basis(facts, recipient.organization) is not None:
        return None
    involved = related(facts, recipient.organization)
    covering = [c for c in facts.consents
                if consent_covers(c, recipient.organization, involved)]
    day = local_date(facts.at)
    if any(c.withdrawn_at is not None and c.withdrawn_at <= facts.at for c in covering):
        sv, en = ("personen har återkallat sitt samtycke till mottagarens organisation.",
                  "the person has withdrawn their consent for the recipient's organization.")
    elif any(c.valid_from > day for c in covering):
        sv, en = ("personens samtycke till mottagarens organisation gäller inte ännu.",
                  "the person's consent for the recipient's organization is not yet valid.")
    elif covering:
        sv, en = ("personens samtycke till mottagarens organisation har gått ut.",
                  "the person's consent for the recipient's organization has expired.")
    else:
        sv, en = ("personen har inget samtycke som omfattar mottagarens organisation.",
                  "the person has no consent covering the recipient's organization.")
    return Refusal(Rule.LEGAL_BASIS, recipient.group_id, _NO_BASIS_SV + sv, _NO_BASIS_EN + en)


# The rule table, in the order the rules are tried.
RULES: tuple[RuleSpec, ...] = (
    RuleSpec(Rule.CARE_RELATIONSHIP, person_only=True, overridable=True,
             check=_care_relationship),
    RuleSpec(Rule.LEGAL_BASIS, person_only=True, overridable=True, check=_legal_basis),
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
    bases: list[tuple[uuid.UUID, str]] = []
    if facts.about_person:
        for recipient in facts.recipients:
            found = legal_basis(facts, recipient.organization)
            bases.append((recipient.group_id, found.id if found else "emergency_override"))
    return Decision((), tuple(overridden), tuple(bases))

"""The send policy as pure functions: care relationship, legal basis, emergency override.

The oracle below restates the rules from ARCHITECTURE.md ("Policy") and the city's
routines on its own, without the table of bases, and hypothesis checks the policy
against it over random organizations (of every kind), engagements, assignments,
routine steps and consents (with periods and withdrawals).
"""

from __future__ import annotations

import datetime as dt
import uuid
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from hub.domain.bases import TABLE
from hub.domain.policy import (
    AssignmentFacts,
    ChangeFacts,
    ConsentFacts,
    OrgFacts,
    RecipientFacts,
    Rule,
    SendFacts,
    evaluate_send,
)
from hub.domain.roles import OrgKind
from hub.domain.vocabulary import RoutineStep

STOCKHOLM = ZoneInfo("Europe/Stockholm")
# A moment close to midnight in Sweden, so consent days are Swedish days, not UTC days.
BASE = dt.datetime(2026, 11, 23, 22, 30, tzinfo=dt.UTC)
KINDS = [k for k in OrgKind if k is not OrgKind.OPERATIONS]

# The routines, restated: who sends which step of an assignment (CM: the distributing
# case-management organization, P: the provider it went to).
CM, P, EITHER = "cm", "provider", "either"
ASSIGNMENT_STEPS = {
    "assignment": CM, "receipt": P, "first_visit": P, "service_not_started": P,
    "start_confirmed": CM, "changed_needs": EITHER, "consent_refused": P,
    "provider_change": EITHER, "follow_up_request": CM,
}
HOME_HEALTH_CARE_NOTICES = {"chosen_provider": CM, "provider_change": P}
# OSL 26 kap. 9 c §: ÄVO, FFS and the city's home care, as the operator configured it.
COMMUNITY = "osl_26_9c"


def org(engaged: bool, kind: OrgKind = OrgKind.PRIVATE_HOME_CARE,
        in_community: bool = False) -> OrgFacts:
    return OrgFacts(uuid.uuid4(), kind, engaged,
                    frozenset({COMMUNITY}) if in_community else frozenset())


@st.composite
def scenarios(draw: st.DrawFn) -> SendFacts:
    orgs = [org(draw(st.booleans()), draw(st.sampled_from(KINDS)), draw(st.booleans()))
            for _ in range(draw(st.integers(2, 5)))]
    at = BASE + dt.timedelta(minutes=draw(st.integers(-3 * 1440, 3 * 1440)))
    today = at.astimezone(STOCKHOLM).date()
    consents = []
    for _ in range(draw(st.integers(0, 3))):
        valid_from = today + dt.timedelta(days=draw(st.integers(-10, 3)))
        length = draw(st.none() | st.integers(0, 12))
        withdrawn = draw(st.none() | st.integers(-72, 72))
        all_involved = draw(st.booleans())
        consents.append(ConsentFacts(
            all_involved=all_involved,
            organizations=frozenset() if all_involved else frozenset(
                o.organization_id for o in orgs if draw(st.booleans())),
            valid_from=valid_from,
            valid_to=None if length is None else valid_from + dt.timedelta(days=length),
            withdrawn_at=None if withdrawn is None else at + dt.timedelta(hours=withdrawn)))
    assignments = tuple(
        AssignmentFacts(draw(st.sampled_from(orgs)).organization_id,
                        draw(st.sampled_from(orgs)).organization_id,
                        draw(st.none() | st.sampled_from(orgs).map(lambda o: o.organization_id)))
        for _ in range(draw(st.integers(0, 2))))
    changes = tuple(
        ChangeFacts(*(draw(st.sampled_from(orgs)).organization_id for _ in range(3)))
        for _ in range(draw(st.integers(0, 1))))
    step = draw(st.none() | st.sampled_from(list(RoutineStep)))
    sender = draw(st.sampled_from(orgs))
    recipients = tuple(RecipientFacts(uuid.uuid4(), draw(st.sampled_from(orgs)))
                       for _ in range(draw(st.integers(1, 4))))
    return SendFacts(True, sender, recipients, at, tuple(consents), step, assignments,
                     changes, draw(st.booleans()))


def _sends(side: str, a: AssignmentFacts, sender: uuid.UUID, recipient: uuid.UUID) -> bool:
    forward = a.case_management == sender and a.provider == recipient
    backward = a.provider == sender and a.case_management == recipient
    return {CM: forward, P: backward, EITHER: forward or backward}[side]


def _in_change(c: ChangeFacts, org: uuid.UUID) -> bool:
    return org in (c.case_management, c.outgoing, c.incoming)


def related(facts: SendFacts, o: OrgFacts) -> bool:
    """Engaged, or a party to an assignment for the person, or to a provider change."""
    return o.engaged or any(o.organization_id in (a.case_management, a.provider)
                            for a in facts.assignments) \
        or any(_in_change(c, o.organization_id) for c in facts.changes)


def has_basis(facts: SendFacts, recipient: OrgFacts) -> bool:
    sender, step = facts.sender, facts.step
    if sender.organization_id == recipient.organization_id:
        return True
    # Documents go on consent or the secrecy community, never on a routine step's basis.
    routine = not facts.attachments
    if routine and step in ASSIGNMENT_STEPS and any(
            _sends(ASSIGNMENT_STEPS[step], a, sender.organization_id,
                   recipient.organization_id) for a in facts.assignments):
        return True
    # An urgent start: its giver (the alarm service, the night patrol) tells the provider
    # and the case management it acts for, of the assignment only.
    if routine and step == "assignment" and any(
            a.urgent_by == sender.organization_id
            and recipient.organization_id in (a.case_management, a.provider)
            for a in facts.assignments):
        return True
    if routine and step == "provider_change" and any(
            _in_change(c, sender.organization_id) and _in_change(c, recipient.organization_id)
            and sender.organization_id != recipient.organization_id for c in facts.changes):
        return True
    # Home health care hears of the chosen provider from the case worker of an
    # assignment, and of a provider change from the change's outgoing provider.
    # (The alarm service that gave an urgent start tells it in the case worker's stead.)
    notifiers = {a.case_management for a in facts.assignments} | {
        a.urgent_by for a in facts.assignments} - {None} if step == "chosen_provider" \
        else {c.outgoing for c in facts.changes}
    if routine and step in HOME_HEALTH_CARE_NOTICES \
            and recipient.kind is OrgKind.HOME_HEALTH_CARE and recipient.engaged \
            and sender.organization_id in notifiers:
        return True
    # The configured sets decide, whatever the kinds.
    if COMMUNITY in sender.communities and COMMUNITY in recipient.communities:
        return True
    day = facts.at.astimezone(STOCKHOLM).date()
    return any(
        (related(facts, recipient) if c.all_involved
         else recipient.organization_id in c.organizations)
        and (c.withdrawn_at is None or c.withdrawn_at > facts.at)
        and c.valid_from <= day and (c.valid_to is None or day <= c.valid_to)
        for c in facts.consents)


def failing_rules(facts: SendFacts, recipient: OrgFacts) -> list[Rule]:
    """Every rule that fails for one recipient, in table order."""

    failing = []
    if not (related(facts, facts.sender) and related(facts, recipient)):
        failing.append(Rule.CARE_RELATIONSHIP)
    if not has_basis(facts, recipient):
        failing.append(Rule.LEGAL_BASIS)
    return failing


@given(scenarios())
def test_a_send_goes_if_and_only_if_the_rules_allow_it_and_refusals_name_the_rule(
        facts: SendFacts) -> None:
    decision = evaluate_send(facts)
    refused = {r.group_id: r.rule for r in decision.refusals}
    for recipient in facts.recipients:
        failing = failing_rules(facts, recipient.organization)
        assert refused.get(recipient.group_id) == (failing[0] if failing else None)
    assert decision.allowed == (not refused)
    assert len(decision.refusals) == len(refused)  # one refusal per refused group
    assert decision.overridden == ()


@given(scenarios())
def test_no_group_goes_without_a_basis_and_the_basis_is_named(facts: SendFacts) -> None:
    decision = evaluate_send(facts)
    if not decision.allowed:
        return
    bases = dict(decision.bases)
    assert set(bases) == {r.group_id for r in facts.recipients}
    for recipient in facts.recipients:
        assert has_basis(facts, recipient.organization)
        assert bases[recipient.group_id] in {b.id for b in TABLE.bases}


@given(scenarios())
def test_an_emergency_override_sets_aside_exactly_the_failing_rules(facts: SendFacts) -> None:
    decision = evaluate_send(facts, emergency_override=True)
    assert decision.allowed
    expected = sorted((r.group_id, rule) for r in facts.recipients
                      for rule in failing_rules(facts, r.organization))
    assert sorted((r.group_id, r.rule) for r in decision.overridden) == expected


@given(scenarios())
def test_messages_not_about_a_person_skip_the_person_rules(facts: SendFacts) -> None:
    facts = SendFacts(False, facts.sender, facts.recipients, facts.at, facts.consents)
    decision = evaluate_send(facts)
    assert decision.allowed and decision.bases == ()


def _private_to_night(consent: ConsentFacts, at: dt.datetime = BASE) -> tuple[Rule, ...]:
    recipient = RecipientFacts(uuid.uuid4(), org(True, OrgKind.NIGHT_SERVICE))
    facts = SendFacts(True, org(True), (recipient,), at, (consent,))
    return tuple(r.rule for r in evaluate_send(facts).refusals)


TODAY = BASE.astimezone(STOCKHOLM).date()  # 2026-11-23 23:30 in Sweden


def test_a_withdrawn_consent_blocks_the_next_send() -> None:
    consent = ConsentFacts(True, frozenset(), TODAY - dt.timedelta(days=30))
    assert _private_to_night(consent) == ()
    withdrawn = ConsentFacts(True, frozenset(), consent.valid_from,
                             withdrawn_at=BASE - dt.timedelta(seconds=1))
    assert _private_to_night(withdrawn) == (Rule.LEGAL_BASIS,)
    # A withdrawal is not retroactive: a send before it was allowed.
    assert _private_to_night(withdrawn, BASE - dt.timedelta(minutes=1)) == ()


def test_an_expired_consent_blocks_and_its_last_day_still_counts() -> None:
    ends_today = ConsentFacts(True, frozenset(), TODAY - dt.timedelta(days=30), TODAY)
    assert _private_to_night(ends_today) == ()
    ended = ConsentFacts(True, frozenset(), TODAY - dt.timedelta(days=30),
                         TODAY - dt.timedelta(days=1))
    assert _private_to_night(ended) == (Rule.LEGAL_BASIS,)


def test_a_future_consent_does_not_yet_allow() -> None:
    tomorrow = ConsentFacts(True, frozenset(), TODAY + dt.timedelta(days=1))
    assert _private_to_night(tomorrow) == (Rule.LEGAL_BASIS,)
    # An hour later it is tomorrow in Sweden (still today in UTC).
    assert _private_to_night(tomorrow, BASE + dt.timedelta(hours=1)) == ()


def test_a_named_consent_covers_only_the_organizations_it_names() -> None:
    night_a, night_b = org(True, OrgKind.NIGHT_SERVICE), org(True, OrgKind.NIGHT_SERVICE)
    consent = ConsentFacts(False, frozenset({night_a.organization_id}), TODAY)
    a, b = RecipientFacts(uuid.uuid4(), night_a), RecipientFacts(uuid.uuid4(), night_b)
    decision = evaluate_send(SendFacts(True, org(True), (a, b), BASE, (consent,)))
    assert [(r.group_id, r.rule) for r in decision.refusals] == [(b.group_id, Rule.LEGAL_BASIS)]


def test_a_refusal_explains_itself_in_swedish_and_english() -> None:
    recipient = RecipientFacts(uuid.uuid4(), org(False))
    refusal = evaluate_send(SendFacts(True, org(True), (recipient,), BASE)).refusals[0]
    assert refusal.group_id == recipient.group_id
    assert "insats" in refusal.reason_sv
    assert "engagement" in refusal.reason_en
    withdrawn = ConsentFacts(True, frozenset(), TODAY, withdrawn_at=BASE)
    basis_refusal = evaluate_send(SendFacts(
        True, org(True), (RecipientFacts(uuid.uuid4(), org(True, OrgKind.NIGHT_SERVICE)),),
        BASE, (withdrawn,))).refusals[0]
    assert "rättslig grund" in basis_refusal.reason_sv
    assert "återkallat" in basis_refusal.reason_sv
    assert "legal basis" in basis_refusal.reason_en and "withdrawn" in basis_refusal.reason_en

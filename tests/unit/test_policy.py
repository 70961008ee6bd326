"""The send policy as pure functions: care relationship, consent, emergency override.

The oracle below restates the rules from ARCHITECTURE.md ("Policy") on its own,
and hypothesis checks the rule table against it over random organizations,
authorities, engagements and consents (with periods and withdrawals).
"""

from __future__ import annotations

import datetime as dt
import uuid
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from hub.domain.policy import (
    ConsentFacts,
    OrgFacts,
    RecipientFacts,
    Rule,
    SendFacts,
    evaluate_send,
)

CITY = "2120001355"
AUTHORITIES = [CITY, "5591234561", "5592345671"]
STOCKHOLM = ZoneInfo("Europe/Stockholm")
# A moment close to midnight in Sweden, so consent days are Swedish days, not UTC days.
BASE = dt.datetime(2026, 11, 23, 22, 30, tzinfo=dt.UTC)


def org(engaged: bool, authority: str = CITY) -> OrgFacts:
    return OrgFacts(uuid.uuid4(), authority, engaged)


@st.composite
def scenarios(draw: st.DrawFn) -> SendFacts:
    orgs = [org(draw(st.booleans()), draw(st.sampled_from(AUTHORITIES)))
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
    sender = draw(st.sampled_from(orgs))
    recipients = tuple(RecipientFacts(uuid.uuid4(), draw(st.sampled_from(orgs)))
                       for _ in range(draw(st.integers(1, 4))))
    return SendFacts(True, sender, recipients, at, tuple(consents))


def failing_rules(facts: SendFacts, recipient: OrgFacts) -> list[Rule]:
    """Every rule that fails for one recipient, in table order."""
    failing = []
    if not (facts.sender.engaged and recipient.engaged):
        failing.append(Rule.CARE_RELATIONSHIP)
    if facts.sender.authority != recipient.authority:
        day = facts.at.astimezone(STOCKHOLM).date()
        allowed = any(
            (recipient.engaged if c.all_involved
             else recipient.organization_id in c.organizations)
            and (c.withdrawn_at is None or c.withdrawn_at > facts.at)
            and c.valid_from <= day and (c.valid_to is None or day <= c.valid_to)
            for c in facts.consents)
        if not allowed:
            failing.append(Rule.CONSENT)
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
def test_an_emergency_override_sets_aside_exactly_the_failing_rules(facts: SendFacts) -> None:
    decision = evaluate_send(facts, emergency_override=True)
    assert decision.allowed
    expected = sorted((r.group_id, rule) for r in facts.recipients
                      for rule in failing_rules(facts, r.organization))
    assert sorted((r.group_id, r.rule) for r in decision.overridden) == expected


@given(scenarios())
def test_messages_not_about_a_person_skip_the_person_rules(facts: SendFacts) -> None:
    facts = SendFacts(False, facts.sender, facts.recipients, facts.at, facts.consents)
    assert evaluate_send(facts).allowed


def _private_to_city(consent: ConsentFacts, at: dt.datetime = BASE) -> tuple[Rule, ...]:
    recipient = RecipientFacts(uuid.uuid4(), org(True, CITY))
    facts = SendFacts(True, org(True, "5591234561"), (recipient,), at, (consent,))
    return tuple(r.rule for r in evaluate_send(facts).refusals)


TODAY = BASE.astimezone(STOCKHOLM).date()  # 2026-11-23 23:30 in Sweden


def test_a_withdrawn_consent_blocks_the_next_send() -> None:
    consent = ConsentFacts(True, frozenset(), TODAY - dt.timedelta(days=30))
    assert _private_to_city(consent) == ()
    withdrawn = ConsentFacts(True, frozenset(), consent.valid_from,
                             withdrawn_at=BASE - dt.timedelta(seconds=1))
    assert _private_to_city(withdrawn) == (Rule.CONSENT,)
    # A withdrawal is not retroactive: a send before it was allowed.
    assert _private_to_city(withdrawn, BASE - dt.timedelta(minutes=1)) == ()


def test_an_expired_consent_blocks_and_its_last_day_still_counts() -> None:
    ends_today = ConsentFacts(True, frozenset(), TODAY - dt.timedelta(days=30), TODAY)
    assert _private_to_city(ends_today) == ()
    ended = ConsentFacts(True, frozenset(), TODAY - dt.timedelta(days=30),
                         TODAY - dt.timedelta(days=1))
    assert _private_to_city(ended) == (Rule.CONSENT,)


def test_a_future_consent_does_not_yet_allow() -> None:
    tomorrow = ConsentFacts(True, frozenset(), TODAY + dt.timedelta(days=1))
    assert _private_to_city(tomorrow) == (Rule.CONSENT,)
    # An hour later it is tomorrow in Sweden (still today in UTC).
    assert _private_to_city(tomorrow, BASE + dt.timedelta(hours=1)) == ()


def test_a_named_consent_covers_only_the_organizations_it_names() -> None:
    city_a, city_b = org(True, CITY), org(True, CITY)
    consent = ConsentFacts(False, frozenset({city_a.organization_id}), TODAY)
    a, b = RecipientFacts(uuid.uuid4(), city_a), RecipientFacts(uuid.uuid4(), city_b)
    decision = evaluate_send(SendFacts(True, org(True, "5591234561"), (a, b), BASE, (consent,)))
    assert [(r.group_id, r.rule) for r in decision.refusals] == [(b.group_id, Rule.CONSENT)]


def test_the_citys_own_services_share_without_consent() -> None:
    recipient = RecipientFacts(uuid.uuid4(), org(True, CITY))
    assert evaluate_send(SendFacts(True, org(True, CITY), (recipient,), BASE)).allowed


def test_a_refusal_explains_itself_in_swedish_and_english() -> None:
    recipient = RecipientFacts(uuid.uuid4(), org(False))
    refusal = evaluate_send(SendFacts(True, org(True), (recipient,), BASE)).refusals[0]
    assert refusal.group_id == recipient.group_id
    assert "insats" in refusal.reason_sv
    assert "engagement" in refusal.reason_en
    withdrawn = ConsentFacts(True, frozenset(), TODAY, withdrawn_at=BASE)
    consent_refusal = evaluate_send(SendFacts(
        True, org(True, "5591234561"), (RecipientFacts(uuid.uuid4(), org(True)),), BASE,
        (withdrawn,))).refusals[0]
    assert "återkallat" in consent_refusal.reason_sv
    assert "withdrawn" in consent_refusal.reason_en

"""The send policy as pure functions: the care-relationship rule."""

from __future__ import annotations

import uuid

from hypothesis import given
from hypothesis import strategies as st

from hub.domain.policy import (
    OrgFacts,
    RecipientFacts,
    Rule,
    SendFacts,
    evaluate_send,
)

CITY = "2120001355"


def org(engaged: bool) -> OrgFacts:
    return OrgFacts(uuid.uuid4(), CITY, engaged)


@given(sender_engaged=st.booleans(), recipients_engaged=st.lists(st.booleans(), min_size=1,
                                                                 max_size=6))
def test_a_message_about_a_person_goes_only_between_engaged_organizations(
        sender_engaged: bool, recipients_engaged: list[bool]) -> None:
    recipients = tuple(RecipientFacts(uuid.uuid4(), org(e)) for e in recipients_engaged)
    decision = evaluate_send(SendFacts(True, org(sender_engaged), recipients))
    refused = {r.group_id for r in decision.refusals}
    for recipient in recipients:
        should_go = sender_engaged and recipient.organization.engaged
        assert (recipient.group_id not in refused) == should_go
    assert all(r.rule is Rule.CARE_RELATIONSHIP for r in decision.refusals)
    assert decision.allowed == (sender_engaged and all(recipients_engaged))


def test_a_refusal_explains_itself_in_swedish_and_english() -> None:
    recipient = RecipientFacts(uuid.uuid4(), org(False))
    refusal = evaluate_send(SendFacts(True, org(True), (recipient,))).refusals[0]
    assert refusal.group_id == recipient.group_id
    assert "insats" in refusal.reason_sv
    assert "engagement" in refusal.reason_en


@given(st.lists(st.booleans(), min_size=1, max_size=6), st.booleans())
def test_messages_not_about_a_person_skip_the_person_rules(
        recipients_engaged: list[bool], sender_engaged: bool) -> None:
    recipients = tuple(RecipientFacts(uuid.uuid4(), org(e)) for e in recipients_engaged)
    assert evaluate_send(SendFacts(False, org(sender_engaged), recipients)).allowed

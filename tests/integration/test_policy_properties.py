"""The send policy through the real service and database: random organizations of
several kinds, engagements, assignments distributed by case workers, consents (with
periods and withdrawals), routine steps, random senders and recipients, with and
without emergency override.

Each example sends one message and compares the outcome with an oracle that
restates the rules (ARCHITECTURE.md, "Policy", and the routines behind
hub/domain/legal_bases.toml); after the run the database must hold a delivery for no
organization the rules refused, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import datetime as dt
import itertools
import uuid
from dataclasses import dataclass

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from hub.clock import local_date
from hub.db.models import Delivery, EmergencyOverride, Message, ReachMember
from hub.domain.assignments import PROVIDER_KINDS
from hub.domain.roles import OrgKind, Role
from hub.services.actor import CLI_OPERATOR, Actor
from hub.services.assignments import NewAssignment
from hub.services.consents import NewConsent
from hub.services.messages import MessageDraft, PolicyRefused
from hub.services.persons import NewEngagement, NewPerson
from tests.factories import make_group, make_org, make_unit, make_user, personnummer
from tests.stored import reached, scalar, scalars

KINDS = [OrgKind.PRIVATE_HOME_CARE, OrgKind.CITY_HOME_CARE, OrgKind.NIGHT_SERVICE,
         OrgKind.CASE_MANAGEMENT, OrgKind.HOME_HEALTH_CARE]
# Steps a message may carry through the ordinary send (the assignment's own steps are
# its actions'), and who sends each in the assignment relationship.
STEPS = {None: None, "changed_needs": "either", "consent_refused": "provider",
         "service_not_started": "provider", "provider_change": "either"}
# OSL 26 kap. 9 c §: ÄVO, FFS and the city's home care.
COMMUNITY = {OrgKind.CASE_MANAGEMENT, OrgKind.CITY_HOME_CARE}
REASON = "Larm utan svar, hemtjänsten behöver veta nu"
_people = itertools.count(50_000)


@dataclass
class Party:
    organization_id: uuid.UUID
    kind: OrgKind
    unit_id: uuid.UUID
    actor: Actor
    group_id: uuid.UUID
    engaged: bool = False


@st.composite
def worlds(draw: st.DrawFn) -> dict:
    n = draw(st.integers(2, 4))
    return {
        "kinds": [draw(st.sampled_from(KINDS)) for _ in range(n)],
        # per organization: no engagement, active, ended yesterday, starting tomorrow
        "engagements": [draw(st.sampled_from(["none", "active", "ended", "future"]))
                        for _ in range(n)],
        # (case management, provider): distributed where the kinds allow
        "assignments": draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)),
                                     max_size=2)),
        "consents": draw(st.lists(st.fixed_dictionaries({
            "all_involved": st.booleans(),
            "named": st.lists(st.integers(0, n - 1), max_size=n, unique=True),
            "starts": st.integers(-5, 2),  # days from today
            "length": st.none() | st.integers(-3, 5),  # valid_to - today (None: open)
            "withdrawn": st.booleans(),
        }), max_size=3)),
        "step": draw(st.sampled_from(list(STEPS))),
        "sender": draw(st.integers(0, n - 1)),
        "recipients": draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=n,
                                    unique=True)),
        "override": draw(st.booleans()),
    }


async def _party(hub, kind: OrgKind) -> Party:
    org = await make_org(hub, kind)
    unit = await make_unit(hub, org)
    role = Role.CASE_WORKER if kind is OrgKind.CASE_MANAGEMENT else Role.STAFF
    account = await make_user(hub, org, role, unit=unit)
    group = await make_group(hub, org, unit, unit=unit)
    actor = Actor(kind="user", organization_id=org.id, user_id=account.id, unit_id=unit.id,
                  roles=frozenset({role}))
    return Party(org.id, kind, unit.id, actor, group)


def _oracle(parties: list[Party], sender: Party, recipient: Party,
            assignments: list[tuple[Party, Party]], step: str | None,
            consents: list[dict], today: dt.date) -> list[str]:
    """The rules that fail for one recipient, in order."""

    def related(p: Party) -> bool:
        return p.engaged or any(p in pair for pair in assignments)

    failing = []
    if not (related(sender) and related(recipient)):
        failing.append("care_relationship")
    side = STEPS[step]
    basis = sender is recipient or (sender.kind in COMMUNITY and recipient.kind in COMMUNITY)
    basis = basis or any(
        (side == "either" and sender is cm and recipient is provider)
        or (side in ("either", "provider") and sender is provider and recipient is cm)
        for cm, provider in assignments)
    basis = basis or (step == "provider_change" and recipient.kind is OrgKind.HOME_HEALTH_CARE
                      and recipient.engaged
                      and any(sender is provider for _, provider in assignments))
    for c in consents:
        valid_from = today + dt.timedelta(days=c["starts"])
        valid_to = None if c["length"] is None else max(
            valid_from, today + dt.timedelta(days=c["length"]))
        covers = (related(recipient) if c["all_involved"]
                  else any(parties[i] is recipient for i in c["named"]))
        in_force = not c["withdrawn"] and valid_from <= today and (
            valid_to is None or today <= valid_to)
        basis = basis or (covers and in_force)
    if not basis:
        failing.append("legal_basis")
    return failing


@settings(max_examples=30, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(world=worlds())
async def test_a_send_is_delivered_iff_the_rules_allow_and_refused_orgs_get_nothing(
        hub, world) -> None:
    today = local_date(hub.clock.now())
    parties = [await _party(hub, kind) for kind in world["kinds"]]
    person_id = await hub.persons.register(CLI_OPERATOR, NewPerson(
        personnummer(next(_people)), "Slumpad Person"))
    for party, state in zip(parties, world["engagements"], strict=True):
        if state == "none":
            continue
        starts = {"active": -10, "ended": -10, "future": 1}[state]
        ends = {"active": None, "ended": -1, "future": None}[state]
        await hub.persons.add_engagement(CLI_OPERATOR, NewEngagement(
            person_id, party.unit_id, "home_care", today + dt.timedelta(days=starts),
            None if ends is None else today + dt.timedelta(days=ends)))
        party.engaged = state == "active"
    assignments = []
    for i, (cm_index, provider_index) in enumerate(world["assignments"]):
        cm, provider = parties[cm_index], parties[provider_index]
        if cm.kind is not OrgKind.CASE_MANAGEMENT or provider.kind not in PROVIDER_KINDS:
            continue
        await hub.assignments.distribute(cm.actor, NewAssignment(
            provider_unit_id=provider.unit_id, services=("relief",), case_number="SN 1",
            person_id=person_id, requested_start=today + dt.timedelta(days=5 + i)))
        assignments.append((cm, provider))
    for c in world["consents"]:
        if not c["all_involved"] and not c["named"]:
            c["all_involved"] = True  # a named consent names someone
        valid_from = today + dt.timedelta(days=c["starts"])
        recorded = await hub.consents.record(CLI_OPERATOR, NewConsent(
            person_id, "written", "all_involved" if c["all_involved"] else "named",
            tuple(parties[i].organization_id for i in c["named"])
            if not c["all_involved"] else (),
            valid_from, None if c["length"] is None else max(
                valid_from, today + dt.timedelta(days=c["length"]))))
        if c["withdrawn"]:
            await hub.consents.withdraw(CLI_OPERATOR, recorded.id)

    sender = parties[world["sender"]]
    chosen = [i for i in world["recipients"] if i != world["sender"]] \
        or [(world["sender"] + 1) % len(parties)]
    recipients = [parties[i] for i in chosen]
    failing = {r.group_id: _oracle(parties, sender, r, assignments, world["step"],
                                   world["consents"], today)
               for r in recipients}
    key = f"property-{uuid.uuid4()}"
    draft = MessageDraft(
        group_ids=tuple(r.group_id for r in recipients), subject="Egenskapstest",
        body="", person_id=person_id, idempotency_key=key, routine_step=world["step"],
        emergency_reason=REASON if world["override"] else None)
    try:
        sent = await hub.messages.send(sender.actor, draft)
    except PolicyRefused as refused:
        assert not world["override"]
        named = {(r["group_id"], r["rule"]) for r in refused.extra["refusals"]}
        assert named == {(str(g), rules[0]) for g, rules in failing.items() if rules}
        assert any(failing.values())
        sent = None
    else:
        assert world["override"] or not any(failing.values())
        expected = sorted({rule for rules in failing.values() for rule in rules})
        assert list(sent.overridden_rules) == expected

    message_id = await scalar(hub, select(Message.id).where(Message.idempotency_key == key))
    delivered = set(await scalars(hub, reached(ReachMember.organization_id).where(
        Message.id == message_id))) if message_id else set()
    override = await scalar(hub, select(EmergencyOverride.id).where(
        EmergencyOverride.message_id == message_id)) if message_id else None
    if sent is None:
        assert message_id is None and not delivered
    else:
        assert message_id == sent.id
        assert delivered == {r.organization_id for r in recipients}
        assert (override is not None) == bool(sent.overridden_rules)


async def test_no_delivery_exists_for_an_organization_the_rules_refuse(hub) -> None:
    """A direct check of the database after refusals of every kind: the refused
    organization has no delivery, no message key and no recipient row."""
    today = local_date(hub.clock.now())
    city = await _party(hub, OrgKind.NIGHT_SERVICE)
    private = await _party(hub, OrgKind.PRIVATE_HOME_CARE)
    stranger = await _party(hub, OrgKind.NIGHT_SERVICE)
    person_id = await hub.persons.register(CLI_OPERATOR, NewPerson(
        personnummer(next(_people)), "Slumpad Person"))
    for party in (city, private):
        await hub.persons.add_engagement(CLI_OPERATOR, NewEngagement(
            person_id, party.unit_id, "home_care", today - dt.timedelta(days=3)))
    attempts = [
        (private.actor, [city.group_id]),  # no legal basis: no consent
        (city.actor, [stranger.group_id]),  # no care relationship
        (city.actor, [private.group_id, stranger.group_id]),  # both
    ]
    for actor, groups in attempts:
        try:
            await hub.messages.send(actor, MessageDraft(
                group_ids=tuple(groups), subject="x", body="", person_id=person_id))
        except PolicyRefused:
            continue
        raise AssertionError("the policy let a refused send through")
    assert await scalars(hub, select(Message.id).where(
        Message.person_id == person_id)) == []
    refused_orgs = {city.organization_id, private.organization_id,
                    stranger.organization_id}
    assert await scalars(hub, reached().where(
        ReachMember.organization_id.in_(refused_orgs))) == []
    assert await scalars(hub, select(Delivery.seq).where(
        Delivery.organization_id.in_(refused_orgs))) == []

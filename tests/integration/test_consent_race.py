"""A withdrawal of consent races many sends about the person: once the withdrawal is
committed, no send that commits later may pass on that consent."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt

import pytest
from sqlalchemy import select

from hub.clock import FixedClock
from hub.db.models import AuditEntry, Consent, Message
from hub.domain.roles import OrgKind, Role
from hub.services.actor import Actor
from hub.services.messages import MessageDraft, PolicyRefused
from tests.factories import (
    give_consent,
    make_group,
    make_org,
    make_person,
    make_unit,
    make_user,
    personnummer,
)
from tests.stored import scalar, scalars

SENDERS = 16
ROUNDS = 3


class TickingClock(FixedClock):
    """Moves a millisecond every time it is read, as a real clock moves while a send
    seals and queues: the moment a send was started is not the moment it commits."""

    def now(self) -> dt.datetime:
        self.advance(milliseconds=1)
        return super().now()


@pytest.fixture
def clock() -> FixedClock:
    return TickingClock()


async def test_no_send_commits_on_a_consent_after_its_withdrawal_committed(hub):
    private = await make_org(hub, OrgKind.PRIVATE_HOME_CARE, authority="5591234561")
    private_unit = await make_unit(hub, private)
    sender = await make_user(hub, private, Role.STAFF, unit=private_unit)
    night = await make_org(hub, OrgKind.NIGHT_SERVICE)
    night_unit = await make_unit(hub, night)
    await make_user(hub, night, Role.STAFF, unit=night_unit)
    group = await make_group(hub, night, night_unit, unit=night_unit)
    actor = Actor(kind="user", organization_id=private.id, user_id=sender.id,
                  unit_id=private_unit.id, roles=frozenset({Role.STAFF}))
    withdrawer = Actor(kind="user", organization_id=private.id, user_id=sender.id,
                       unit_id=private_unit.id, roles=frozenset({Role.STAFF}))
    late = []
    for n in range(ROUNDS):
        person_id = await make_person(hub, personnummer=personnummer(300 + n),
                                      engaged_units=(private_unit, night_unit))
        consent_id = await give_consent(hub, person_id)

        async def send(i: int, person_id=person_id) -> None:
            # A big body makes sealing (before the transaction) take a while.
            draft = MessageDraft(group_ids=(group,), subject=f"Natt {i}",
                                 body="x" * (8_000 * (1 + i % 4)), person_id=person_id)
            with contextlib.suppress(PolicyRefused):
                await hub.messages.send(actor, draft)

        async def withdraw(consent_id=consent_id) -> None:
            # Sends started before it are sealed and queued, not yet committed.
            await hub.consents.withdraw(withdrawer, consent_id)

        tasks = [send(i) for i in range(SENDERS // 2)] + [withdraw()] + \
            [send(i) for i in range(SENDERS // 2, SENDERS)]
        await asyncio.gather(*tasks)

        withdraw_seq = await scalar(hub, select(AuditEntry.seq).where(
            AuditEntry.action == "consent.withdraw", AuditEntry.person_id == person_id))
        send_seqs = await scalars(hub, select(AuditEntry.seq).where(
            AuditEntry.action == "message.send", AuditEntry.person_id == person_id))
        withdrawn_at = await scalar(hub, select(Consent.withdrawn_at).where(
            Consent.id == consent_id))
        stamps = await scalars(hub, select(Message.created_at).where(
            Message.person_id == person_id))
        assert withdraw_seq is not None and withdrawn_at is not None
        late += [seq for seq in send_seqs if seq > withdraw_seq]
        late += [stamp for stamp in stamps if stamp > withdrawn_at]
    assert late == [], "sends committed on a consent already withdrawn"

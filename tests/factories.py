"""Factories that build rows through the services, as a user would."""

from __future__ import annotations

import datetime as dt
import itertools
import uuid
from dataclasses import dataclass

import pyotp

from hub.app import Hub
from hub.clock import local_date
from hub.db.models import Organization, Unit
from hub.domain.roles import OrgKind, Role
from hub.services.actor import CLI_OPERATOR
from hub.services.admin import NewOrganization, NewUser

PASSWORD = "correct-horse-battery"
CITY = "2120001355"
_counter = itertools.count(1)
# Valid organisationsnummer (Luhn) for private companies in tests.
PRIVATE_NUMBERS = ["5591234561", "5592345671", "5566778899", "5560160680"]


@dataclass(frozen=True)
class Account:
    id: uuid.UUID
    username: str
    password: str
    totp_secret: str
    organization_id: uuid.UUID
    unit_id: uuid.UUID | None

    def code(self, hub: Hub, offset_steps: int = 0) -> str:
        totp = pyotp.TOTP(self.totp_secret)
        return totp.generate_otp(totp.timecode(hub.clock.now()) + offset_steps)


async def make_org(hub: Hub, kind: OrgKind = OrgKind.PRIVATE_HOME_CARE,
                   name: str | None = None, authority: str | None = None) -> Organization:
    """An organization; a private provider is its own authority (one of a few test
    numbers, unless `authority` is given), a city service has the city's."""
    n = next(_counter)
    number = authority or (PRIVATE_NUMBERS[n % len(PRIVATE_NUMBERS)]
                           if kind is OrgKind.PRIVATE_HOME_CARE else CITY)
    return await hub.admin.create_organization(CLI_OPERATOR, NewOrganization(
        name=name or f"Org {n} {kind.value}", kind=kind, org_number=number, authority=number))


def personnummer(n: int) -> str:
    """The n-th of many distinct valid personnummer (12 digits, Luhn check digit)."""
    born = dt.date(1930, 1, 1) + dt.timedelta(days=n // 900)
    serial = f"{born:%y%m%d}{100 + n % 900:03d}"
    total = 0
    for i, digit in enumerate(serial):
        product = int(digit) * (2 if i % 2 == 0 else 1)
        total += product // 10 + product % 10
    return f"{born:%Y%m%d}{100 + n % 900:03d}{(10 - total % 10) % 10}"


async def make_unit(hub: Hub, org: Organization, name: str | None = None) -> Unit:
    return await hub.admin.create_unit(CLI_OPERATOR, org.id, name or f"Enhet {next(_counter)}")


async def make_user(hub: Hub, org: Organization, *roles: Role,
                    unit: Unit | None = None, username: str | None = None) -> Account:
    username = username or f"user{next(_counter)}"
    created = await hub.admin.create_user(CLI_OPERATOR, NewUser(
        organization_id=org.id, username=username, display_name=f"Test {username}",
        password=PASSWORD, roles=frozenset(roles or (Role.STAFF,)),
        unit_id=unit.id if unit else None))
    return Account(created.user.id, username, PASSWORD, created.totp_secret, org.id,
                   unit.id if unit else None)


async def make_group(hub: Hub, org: Organization, *members: Account | Unit,
                     name: str | None = None, unit: Unit | None = None) -> uuid.UUID:
    """A contact group of `org` with the given users and whole units as members,
    made by an IT contact of that organization; with `unit`, that unit's functional
    inbox (which reaches the unit by itself)."""
    from hub.services.actor import Actor

    it_contact = Actor(kind="user", organization_id=org.id, user_id=None,
                       roles=frozenset({Role.IT_CONTACT}))
    group = await hub.groups.create(it_contact, name or f"Grupp {next(_counter)}",
                                    unit_id=unit.id if unit else None)
    for member in members:
        if unit is not None and member is unit:
            continue  # a unit's functional inbox already reaches the unit
        if isinstance(member, Account):
            await hub.groups.add_member(it_contact, group.id, user_id=member.id)
        else:
            await hub.groups.add_member(it_contact, group.id, unit_id=member.id)
    return group.id


async def make_person(hub: Hub, personnummer: str = "19121212-1212",
                      name: str = "Tolvan Tolvansson", protected: bool = False,
                      engaged_units: tuple[Unit, ...] = ()) -> uuid.UUID:
    from hub.services.persons import NewEngagement, NewPerson

    person_id = await hub.persons.register(CLI_OPERATOR, NewPerson(
        personnummer=personnummer, name=name, protected_identity=protected))
    for unit in engaged_units:
        await hub.persons.add_engagement(CLI_OPERATOR, NewEngagement(
            person_id=person_id, unit_id=unit.id, service_kind="home_care",
            starts_on=local_date(hub.clock.now()) - dt.timedelta(days=1)))
    return person_id


async def give_consent(hub: Hub, person_id: uuid.UUID) -> uuid.UUID:
    """The person's written consent covering everyone involved in their care, from
    today on (recorded by the admin CLI)."""
    from hub.services.consents import NewConsent

    view = await hub.consents.record(CLI_OPERATOR, NewConsent(
        person_id=person_id, method="written", scope="all_involved"))
    return view.id

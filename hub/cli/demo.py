"""Demo data: the organizations of DOMAIN.md with units, accounts of every role,
synthetic persons (one with protected identity) and engagements.

Every personnummer here is synthetic (valid check digit, serial in the 98xx range
used for test data); the names are invented. Accounts share one known demo password;
their TOTP secrets are printed once and written to `<data dir>/demo-accounts.txt`
(mode 0600) so a tester can enrol them in an authenticator app.
"""

from __future__ import annotations

import datetime as dt
import os
import uuid
from dataclasses import dataclass

from rich.console import Console
from rich.table import Table

from hub.app import Hub
from hub.clock import local_date
from hub.domain.roles import OrgKind, Role
from hub.services.actor import CLI_OPERATOR, Actor
from hub.services.admin import NewOrganization, NewUser
from hub.services.assignments import NewAssignment
from hub.services.consents import NewConsent
from hub.services.persons import NewEngagement, NewPerson

DEMO_PASSWORD = "demo-losenord-2026"  # noqa: S105  (the demo's published password)
CITY = "212000-1355"  # Göteborgs Stad, the huvudman of the city's own services


@dataclass(frozen=True)
class DemoOrg:
    key: str
    name: str
    kind: OrgKind
    org_number: str
    units: tuple[str, ...]
    users: tuple[tuple[str, str, tuple[Role, ...]], ...]  # username, name, roles


ORGS = (
    DemoOrg("omsorgvast", "Omsorg Väst AB", OrgKind.PRIVATE_HOME_CARE, "559123-4561",
            ("Hemtjänst Majorna",),
            (("omsorgvast.it", "Ida Lund", (Role.IT_CONTACT,)),
             ("omsorgvast.sara", "Sara Ek", (Role.STAFF,)),
             ("omsorgvast.logg", "Per Holm", (Role.COMPLIANCE,)))),
    DemoOrg("trygghem", "Trygg Hemtjänst i Göteborg AB", OrgKind.PRIVATE_HOME_CARE,
            "559234-5671", ("Hemtjänst Hisingen",),
            (("trygghem.it", "Omar Nilsson", (Role.IT_CONTACT,)),
             ("trygghem.lina", "Lina Berg", (Role.STAFF,)))),
    DemoOrg("natt", "Hemtjänst natt Göteborg", OrgKind.NIGHT_SERVICE, CITY,
            ("Hemtjänst natt Nordost", "Hemtjänst natt Sydväst"),
            (("natt.it", "Karin Sjö", (Role.IT_CONTACT,)),
             ("natt.ali", "Ali Hassan", (Role.STAFF,)))),
    DemoOrg("larm", "Trygghetslarm Göteborg", OrgKind.ALARM_SERVICE, CITY,
            ("Larmcentralen",),
            (("larm.it", "Maja Strand", (Role.IT_CONTACT,)),
             ("larm.jonas", "Jonas Ahl", (Role.STAFF,)))),
    DemoOrg("jouren", "Trygghetsjouren", OrgKind.CAMERA_SUPERVISION, CITY,
            ("Tillsyn via trygghetskamera",),
            (("jouren.it", "Eva Lind", (Role.IT_CONTACT,)),
             ("jouren.nils", "Nils Dahl", (Role.STAFF,)))),
    DemoOrg("avlosning", "Avlösning och ledsagning Göteborg", OrgKind.RELIEF_ESCORT, CITY,
            ("Avlösning Centrum",),
            (("avlosning.it", "Anna Vik", (Role.IT_CONTACT,)),
             ("avlosning.emil", "Emil Kask", (Role.STAFF,)))),
    DemoOrg("hsv", "Hemsjukvård Göteborg", OrgKind.HOME_HEALTH_CARE, CITY,
            ("Hemsjukvård Nordost",),
            (("hsv.it", "Lars Björk", (Role.IT_CONTACT,)),
             ("hsv.sjukskoterska", "Fatima Ali", (Role.STAFF,)))),
    DemoOrg("bistand", "Myndighetsutövning äldreomsorg", OrgKind.CASE_MANAGEMENT, CITY,
            ("Biståndsenheten Nordost",),
            (("bistand.it", "Helena Rask", (Role.IT_CONTACT,)),
             ("bistand.handlaggare", "Johan Ström", (Role.CASE_WORKER,)))),
    DemoOrg("drift", "Omsorgshubbens drift", OrgKind.OPERATIONS, CITY, ("Drift",),
            (("drift.operator", "Kim Ekström", (Role.OPERATOR,)),
             ("stad.loggranskare", "Birgitta Falk", (Role.COMPLIANCE,)))),
)

# Synthetic persons: (personnummer, name, protected identity, engaged units, consent).
# Consent: "all" (everyone involved), the name of the one organization named, "withdrawn"
# (given and withdrawn: private providers may no longer tell the city), or None.
PERSONS = (
    ("19380412-9827", "Astrid Demosson", False,
     (("Hemtjänst Majorna", "home_care"), ("Hemtjänst natt Nordost", "night_care"),
      ("Larmcentralen", "alarm_response"), ("Hemsjukvård Nordost", "home_health_care")),
     "all"),
    ("19451103-9846", "Gösta Provström", False,
     (("Hemtjänst Hisingen", "home_care"), ("Tillsyn via trygghetskamera", "camera_supervision"),
      ("Avlösning Centrum", "relief")), None),
    ("19290917-9869", "Elsa Testberg", True,
     (("Hemtjänst Majorna", "home_care"), ("Hemtjänst natt Sydväst", "night_care")),
     "Hemtjänst natt Göteborg"),
    ("19520228-9889", "Bertil Exempelsson", False,
     (("Hemtjänst Hisingen", "home_care"), ("Larmcentralen", "alarm_response")), "withdrawn"),
    # Enrolled in home health care; her home-care assignment is distributed below.
    ("19470315-9808", "Karin Uppdragsdotter", False,
     (("Hemsjukvård Nordost", "home_health_care"),), None),
)
# Assignments the case worker distributes: (personnummer, provider unit, services).
ASSIGNMENTS = (("19470315-9808", "Hemtjänst Majorna", ("home_care",)),)
# Each organization's lead group (jourhavande), told when a deadline stays unmet:
# (organization, group name, member usernames).
LEADS = (("Omsorg Väst AB", "Jourhavande chef", ("omsorgvast.sara",)),)


async def seed_demo(hub: Hub, console: Console, if_empty: bool = True) -> None:
    if if_empty and await hub.admin.count_organizations():
        console.print("Demo data: the hub already has organizations; nothing seeded.")
        return

    units: dict[str, uuid.UUID] = {}
    organizations: dict[str, uuid.UUID] = {}
    credentials = []
    actors: dict[str, Actor] = {}
    for demo in ORGS:
        org = await hub.admin.create_organization(CLI_OPERATOR, NewOrganization(
            name=demo.name, kind=demo.kind, org_number=demo.org_number, authority=(
                demo.org_number if demo.kind is OrgKind.PRIVATE_HOME_CARE else CITY)))
        organizations[demo.name] = org.id
        first_unit = None
        it_contact = Actor(kind="user", organization_id=org.id,
                           roles=frozenset({Role.IT_CONTACT}))
        for unit_name in demo.units:
            unit = await hub.admin.create_unit(CLI_OPERATOR, org.id, unit_name)
            units[unit_name] = unit.id
            first_unit = first_unit or unit.id
            if demo.kind is not OrgKind.OPERATIONS:  # the operator reads no messages
                # Every care unit's functional inbox, reaching all its staff.
                await hub.groups.create(it_contact, unit_name, unit_id=unit.id)
        for username, name, roles in demo.users:
            created = await hub.admin.create_user(CLI_OPERATOR, NewUser(
                organization_id=org.id, username=username, display_name=name,
                password=DEMO_PASSWORD, roles=frozenset(roles), unit_id=first_unit))
            credentials.append((username, ", ".join(r.value for r in roles), demo.name,
                                created.totp_secret))
            # As the account acts when signed in (for the assignments below).
            actors[username] = Actor(kind="user", organization_id=org.id,
                                     user_id=created.user.id, unit_id=first_unit,
                                     roles=frozenset(roles))

    today = local_date(hub.clock.now())
    for personnummer, name, protected, engagements, consent in PERSONS:
        person_id = await hub.persons.register(CLI_OPERATOR, NewPerson(
            personnummer=personnummer, name=name, protected_identity=protected))
        for unit_name, service in engagements:
            await hub.persons.add_engagement(CLI_OPERATOR, NewEngagement(
                person_id=person_id, unit_id=units[unit_name],
                service_kind=service, starts_on=today - dt.timedelta(days=90)))
        if consent is None:
            continue
        named = consent not in ("all", "withdrawn")
        recorded = await hub.consents.record(CLI_OPERATOR, NewConsent(
            person_id=person_id, method="written" if consent == "all" else "oral",
            scope="named" if named else "all_involved",
            organization_ids=(organizations[consent],) if named else (),
            valid_from=today - dt.timedelta(days=60)))
        if consent == "withdrawn":
            await hub.consents.withdraw(CLI_OPERATOR, recorded.id)

    case_actor = actors["bistand.handlaggare"]
    for personnummer, unit_name, services in ASSIGNMENTS:
        await hub.assignments.distribute(case_actor, NewAssignment(
            provider_unit_id=units[unit_name], services=services, case_number="SN 2026-1042",
            personnummer=personnummer, contact_phone="070-000 00 00 (demo)"))
    for org_name, group_name, members in LEADS:
        org_id = organizations[org_name]
        it_contact = Actor(kind="user", organization_id=org_id,
                           roles=frozenset({Role.IT_CONTACT}))
        group = await hub.groups.create(it_contact, group_name)
        for username in members:
            await hub.groups.add_member(it_contact, group.id,
                                        user_id=actors[username].user_id)
        await hub.escalations.set_lead(it_contact, org_id, group.id)

    path = hub.settings.data_dir / "demo-accounts.txt"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(f"# Demo accounts. Password for all: {DEMO_PASSWORD}\n")
        out.write("# username\troles\torganization\tTOTP secret\n")
        for row in credentials:
            out.write("\t".join(row) + "\n")

    table = Table(title=f"Demo accounts (password for all: {DEMO_PASSWORD})")
    table.add_column("username", no_wrap=True)
    table.add_column("roles")
    table.add_column("organization")
    table.add_column("TOTP secret", no_wrap=True)
    for row in credentials:
        table.add_row(*row)
    console.print(table)
    console.print(f"Demo data seeded: {len(ORGS)} organizations with a contact group per "
                  f"unit, {len(credentials)} accounts, "
                  f"{len(PERSONS)} persons. Accounts and TOTP secrets saved in {path} (0600).")

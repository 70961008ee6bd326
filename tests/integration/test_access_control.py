"""Who may see what, as outside probes tried it: the operator's powers, role changes,
self-granted care relationships, "is this person registered?", names shown where the
organization is not engaged, administrators receiving care messages, and staff with
protected identity."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import event, func, select

from hub.app import HUB
from hub.db.models import AuditEntry, Engagement, Message, User, UserRole
from hub.domain.roles import OrgKind, Role
from hub.errors import ValidationFailed
from hub.services.actor import CLI_OPERATOR
from hub.services.admin import NewUser
from tests.factories import (
    PASSWORD,
    make_group,
    make_org,
    make_person,
    make_unit,
    make_user,
    personnummer,
)
from tests.integration.conftest import bearer, login, web_session
from tests.stored import reached, scalar, scalars

V1 = "/api/v1"
PROBLEM = "application/problem+json"
REASON = "Brukaren svarar inte på larm, nattpatrullen måste veta"


def _user(username: str, *roles: str, **extra: Any) -> dict[str, Any]:
    return {"username": username, "display_name": "Testperson", "password": PASSWORD,
            "roles": list(roles), **extra}


async def _count(hub, model, *where) -> int:
    return int(await scalar(hub, select(func.count()).select_from(model).where(*where)) or 0)


async def _operator(client, hub):
    operations = await make_org(hub, OrgKind.OPERATIONS, name="Drift")
    return operations, await login(client, hub, await make_user(hub, operations, Role.OPERATOR))


# -- 1. the operator creates organizations and their first IT contacts, nothing else ------

async def test_the_operator_cannot_create_staff_who_would_read_care_messages(client, hub):
    _ops, token = await _operator(client, hub)
    night = await make_org(hub, OrgKind.NIGHT_SERVICE, name="Hemtjänst natt")
    unit = await make_unit(hub, night, "Natt Nordost")
    before = await _count(hub, User)
    for roles in (["staff"], ["case_worker"], ["compliance"], ["it_contact", "staff"],
                  ["operator"]):
        response = await client.post(
            f"{V1}/organizations/{night.id}/users", headers=bearer(token),
            json=_user(f"x{len(roles)}{roles[0]}", *roles, unit_id=str(unit.id)))
        assert response.status == 403, (roles, await response.text())
        assert response.content_type == PROBLEM
    assert await _count(hub, User) == before
    # The first IT contact is the operator's to create.
    response = await client.post(f"{V1}/organizations/{night.id}/users",
                                 headers=bearer(token), json=_user("natt.it", "it_contact"))
    assert response.status == 201, await response.text()


async def test_the_operator_sees_and_administers_only_it_contacts(client, hub):
    _ops, token = await _operator(client, hub)
    night = await make_org(hub, OrgKind.NIGHT_SERVICE)
    it = await make_user(hub, night, Role.IT_CONTACT)
    nurse = await make_user(hub, night, Role.STAFF)
    listed = await client.get(f"{V1}/organizations/{night.id}/users", headers=bearer(token))
    assert listed.status == 200
    assert [u["id"] for u in await listed.json()] == [str(it.id)]
    assert (await client.get(f"{V1}/users/{nurse.id}", headers=bearer(token))).status == 404
    assert (await client.post(f"{V1}/users/{nurse.id}/disable",
                              headers=bearer(token))).status == 404
    assert (await client.post(f"{V1}/users/{it.id}/disable",
                              headers=bearer(token))).status == 200
    # Units inside the organization are its IT contact's.
    response = await client.post(f"{V1}/organizations/{night.id}/units",
                                 headers=bearer(token), json={"name": "Ny enhet"})
    assert response.status == 403


# -- 2. nobody changes their own roles; operator stands alone; changes are reviewed --------

@pytest.mark.parametrize("who", ["operator", "it_contact"])
async def test_nobody_changes_their_own_roles(client, hub, who):
    if who == "operator":
        org = await make_org(hub, OrgKind.OPERATIONS)
        account = await make_user(hub, org, Role.OPERATOR)
        wanted = ["operator", "compliance"]
    else:
        org = await make_org(hub)
        account = await make_user(hub, org, Role.IT_CONTACT)
        wanted = ["it_contact", "compliance"]
    token = await login(client, hub, account)
    response = await client.put(f"{V1}/users/{account.id}/roles", headers=bearer(token),
                                json={"roles": wanted})
    assert response.status == 403, await response.text()
    roles = set(await scalars(hub, select(UserRole.role).where(
        UserRole.user_id == account.id)))
    assert roles == {who}
    # The session still works: nothing was changed.
    assert (await client.get(f"{V1}/me", headers=bearer(token))).status == 200


async def test_the_operator_changes_nobodys_roles(client, hub):
    _ops, token = await _operator(client, hub)
    org = await make_org(hub)
    it = await make_user(hub, org, Role.IT_CONTACT)
    response = await client.put(f"{V1}/users/{it.id}/roles", headers=bearer(token),
                                json={"roles": ["it_contact", "staff"]})
    assert response.status == 403


async def test_the_operator_role_does_not_combine_with_others_even_from_the_cli(hub):
    org = await make_org(hub, OrgKind.OPERATIONS)
    for roles in ({Role.OPERATOR, Role.COMPLIANCE},):
        with pytest.raises(ValidationFailed):
            await hub.admin.create_user(CLI_OPERATOR, NewUser(
                organization_id=org.id, username="drift.dubbel", display_name="Dubbel",
                password=PASSWORD, roles=frozenset(roles)))


async def test_role_changes_wait_in_the_compliance_review_queue(client, hub):
    org = await make_org(hub)
    it = await make_user(hub, org, Role.IT_CONTACT)
    nurse = await make_user(hub, org, Role.STAFF)
    token = await login(client, hub, it)
    response = await client.put(f"{V1}/users/{nurse.id}/roles", headers=bearer(token),
                                json={"roles": ["staff", "compliance"]})
    assert response.status == 200
    officer = await make_user(hub, await make_org(hub, OrgKind.OPERATIONS), Role.COMPLIANCE)
    queue = await client.get(f"{V1}/audit/review/role-changes",
                             headers=bearer(await login(client, hub, officer)))
    assert queue.status == 200, await queue.text()
    entries = (await queue.json())["items"]
    changes = [e for e in entries if e["action"] == "user.roles"]
    assert len(changes) == 1
    assert changes[0]["actor"]["user_id"] == str(it.id)
    assert changes[0]["detail"] == {"roles": "compliance,staff", "previous": "staff"}
    assert changes[0]["targets"]["user"] == str(nurse.id)
    # Accounts created with roles are listed too.
    assert any(e["action"] == "user.create" and e["targets"]["user"] == str(nurse.id)
               for e in entries)
    # Staff do not read the queue.
    staff = await client.get(f"{V1}/audit/review/role-changes", headers=bearer(
        await login(client, hub, await make_user(hub, org, Role.STAFF))))
    assert staff.status == 403


# -- 3. a provider never creates its own care relationship ---------------------------------

async def _relief_and_person(hub):
    relief = await make_org(hub, OrgKind.RELIEF_ESCORT, name="Avlösning")
    unit = await make_unit(hub, relief, "Avlösning Centrum")
    person_id = await make_person(hub, personnummer=personnummer(7))
    return relief, unit, person_id


@pytest.mark.parametrize("role", [Role.IT_CONTACT, Role.STAFF])
async def test_a_provider_cannot_engage_its_own_unit_with_a_person(client, hub, role):
    relief, unit, person_id = await _relief_and_person(hub)
    token = await login(client, hub, await make_user(hub, relief, role, unit=unit))
    response = await client.post(f"{V1}/engagements", headers=bearer(token), json={
        "person_id": str(person_id), "unit_id": str(unit.id), "service_kind": "relief",
        "starts_on": "2026-01-01"})
    assert response.status in (403, 404), await response.text()
    csv = f"personnummer,unit,service_kind,starts_on\n{personnummer(7)},{unit.id},relief," \
          "2026-01-01\n"
    for dry_run in ("false", "true"):
        response = await client.post(
            f"{V1}/engagements/import?dry_run={dry_run}", data=csv.encode(),
            headers={**bearer(token), "Content-Type": "text/csv"})
        assert response.status == 403, await response.text()
    assert await _count(hub, Engagement) == 0
    # Nor can it then look the person up.
    lookup = await client.post(f"{V1}/persons/lookup", headers=bearer(token),
                               json={"personnummer": personnummer(7)})
    assert lookup.status == 404


async def test_the_engaged_units_it_contact_may_end_its_own_engagement(client, hub):
    relief, unit, person_id = await _relief_and_person(hub)
    case_management = await make_org(hub, OrgKind.CASE_MANAGEMENT)
    case_worker = await login(client, hub, await make_user(hub, case_management,
                                                           Role.CASE_WORKER))
    created = await client.post(f"{V1}/engagements", headers=bearer(case_worker), json={
        "person_id": str(person_id), "unit_id": str(unit.id), "service_kind": "relief",
        "starts_on": "2026-01-01"})
    assert created.status == 201, await created.text()
    engagement_id = (await created.json())["id"]
    other = await make_org(hub, OrgKind.ALARM_SERVICE)
    other_it = await login(client, hub, await make_user(hub, other, Role.IT_CONTACT))
    assert (await client.post(f"{V1}/engagements/{engagement_id}/end",
                              headers=bearer(other_it), json={})).status == 404
    own_it = await login(client, hub, await make_user(hub, relief, Role.IT_CONTACT))
    ended = await client.post(f"{V1}/engagements/{engagement_id}/end",
                              headers=bearer(own_it), json={})
    assert ended.status == 200, await ended.text()


async def test_home_health_care_records_its_own_enrolments_only(client, hub):
    hhc = await make_org(hub, OrgKind.HOME_HEALTH_CARE, name="Hemsjukvård")
    hhc_unit = await make_unit(hub, hhc, "Sjuksköterskor Nordost")
    nurse = await login(client, hub, await make_user(hub, hhc, Role.STAFF, unit=hhc_unit))
    _relief, relief_unit, person_id = await _relief_and_person(hub)
    own = await client.post(f"{V1}/engagements", headers=bearer(nurse), json={
        "person_id": str(person_id), "unit_id": str(hhc_unit.id),
        "service_kind": "home_health_care", "starts_on": "2026-01-01"})
    assert own.status == 201, await own.text()
    other = await client.post(f"{V1}/engagements", headers=bearer(nurse), json={
        "person_id": str(person_id), "unit_id": str(relief_unit.id),
        "service_kind": "relief", "starts_on": "2026-01-01"})
    assert other.status == 404
    # A dry run (which tells which personnummer are registered) is for case workers.
    csv = f"personnummer,unit,service_kind,starts_on\n{personnummer(7)},{hhc_unit.id}," \
          "home_health_care,2026-02-01\n"
    dry = await client.post(f"{V1}/engagements/import?dry_run=true", data=csv.encode(),
                            headers={**bearer(nurse), "Content-Type": "text/csv"})
    assert dry.status == 403


# -- 4. "is this person registered?" does not leak -------------------------------------------

class _StatementCounter:
    """Counts the SQL statements the app's hub runs (the same work, the same time)."""

    def __init__(self, client) -> None:
        db = client.server.app[HUB].db
        self.engines = db.sync_engines
        self.count = 0

    def __enter__(self):
        for engine in self.engines:
            event.listen(engine, "before_cursor_execute", self._on)
        return self

    def __exit__(self, *exc):
        for engine in self.engines:
            event.remove(engine, "before_cursor_execute", self._on)

    def _on(self, *args):
        self.count += 1


def _same_answer(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != "request_id"}


async def test_unknown_and_not_yours_look_the_same_to_an_unengaged_sender(client, hub):
    night = await make_org(hub, OrgKind.NIGHT_SERVICE)
    night_unit = await make_unit(hub, night)
    group = await make_group(hub, night, night_unit, unit=night_unit)
    await make_user(hub, night, Role.STAFF, unit=night_unit)
    relief = await make_org(hub, OrgKind.RELIEF_ESCORT)
    relief_unit = await make_unit(hub, relief)
    sender = await login(client, hub, await make_user(hub, relief, Role.STAFF,
                                                      unit=relief_unit))
    existing = await make_person(hub, personnummer=personnummer(11),
                                 engaged_units=(night_unit,))
    # Warm the session and key caches first, so only the answer itself is compared.
    await client.post(f"{V1}/messages", headers=bearer(sender), json={
        "group_ids": [str(group)], "subject": "Fråga", "body": "Hej",
        "personnummer": personnummer(15)})
    answers = []
    for about in ({"personnummer": personnummer(11)}, {"personnummer": personnummer(12)},
                  {"person_id": str(existing)}, {"person_id": str(uuid.uuid4())}):
        with _StatementCounter(client) as counter:
            response = await client.post(f"{V1}/messages", headers=bearer(sender), json={
                "group_ids": [str(group)], "subject": "Fråga", "body": "Hej", **about})
        answers.append((response.status, _same_answer(await response.json()),
                        counter.count))
    assert answers[0] == answers[1], "personnummer: registered vs unknown"
    assert answers[2] == answers[3], "person_id: registered vs unknown"
    assert answers[0][0] == 403 and answers[0][1]["code"] == "policy_refused"
    assert await _count(hub, Message) == 0


async def test_a_case_worker_is_told_that_nobody_is_registered(client, hub):
    night = await make_org(hub, OrgKind.NIGHT_SERVICE)
    night_unit = await make_unit(hub, night)
    group = await make_group(hub, night, night_unit, unit=night_unit)
    await make_user(hub, night, Role.STAFF, unit=night_unit)
    case_worker = await login(client, hub, await make_user(
        hub, await make_org(hub, OrgKind.CASE_MANAGEMENT), Role.CASE_WORKER))
    response = await client.post(f"{V1}/messages", headers=bearer(case_worker), json={
        "group_ids": [str(group)], "subject": "Fråga", "body": "Hej",
        "personnummer": personnummer(13)})
    assert response.status == 404


async def test_an_override_about_nobody_is_refused_and_audited(client, hub):
    night = await make_org(hub, OrgKind.NIGHT_SERVICE)
    night_unit = await make_unit(hub, night)
    group = await make_group(hub, night, night_unit, unit=night_unit)
    await make_user(hub, night, Role.STAFF, unit=night_unit)
    relief = await make_org(hub, OrgKind.RELIEF_ESCORT)
    sender = await login(client, hub, await make_user(hub, relief, Role.STAFF,
                                                      unit=await make_unit(hub, relief)))
    response = await client.post(f"{V1}/messages", headers=bearer(sender), json={
        "group_ids": [str(group)], "subject": "Larm", "body": "Hej",
        "personnummer": personnummer(14), "emergency_reason": REASON})
    assert response.status == 422
    assert (await response.json())["code"] == "unknown_person"
    assert await _count(hub, Message) == 0
    assert await _count(hub, AuditEntry, AuditEntry.action == "message.refused") == 1


# -- 8. the registry's name only where the organization is engaged ---------------------------

async def test_an_override_sender_sees_the_pseudonym_never_the_registered_name(client, hub):
    day = await make_org(hub, OrgKind.CITY_HOME_CARE)
    day_unit = await make_unit(hub, day)
    alarm = await make_org(hub, OrgKind.ALARM_SERVICE)
    alarm_unit = await make_unit(hub, alarm)
    engaged_reader = await make_user(hub, day, Role.STAFF, unit=day_unit)
    group = await make_group(hub, day, day_unit, unit=day_unit)
    sender_account = await make_user(hub, alarm, Role.STAFF, unit=alarm_unit)
    person_id = await make_person(hub, personnummer=personnummer(21), name="Greta Garbo",
                                  engaged_units=(day_unit,))
    sender = await login(client, hub, sender_account)
    sent = await client.post(f"{V1}/messages", headers=bearer(sender), json={
        "group_ids": [str(group)], "subject": "Larm 02:10", "body": "Ingen svarar",
        "personnummer": personnummer(21), "emergency_reason": REASON})
    assert sent.status == 201, await sent.text()
    message_id = (await sent.json())["id"]
    for path in (f"{V1}/sent", f"{V1}/messages/{message_id}",
                 f"{V1}/threads/{(await sent.json())['thread_id']}"):
        response = await client.get(path, headers=bearer(sender))
        assert response.status == 200
        text = await response.text()
        assert "Greta" not in text and "Garbo" not in text, path
    opened = await (await client.get(f"{V1}/messages/{message_id}",
                                     headers=bearer(sender))).json()
    assert opened["message"]["person"]["name"] is None
    assert opened["message"]["person"]["pseudonym"] == hub.persons.pseudonym(person_id)
    web = await client.get("/skickat", headers=await web_session(client, hub, sender_account))
    assert web.status == 200 and "Garbo" not in await web.text()
    web = await client.get(f"/meddelanden/{message_id}",
                           headers=await web_session(client, hub, sender_account))
    assert web.status == 200 and "Garbo" not in await web.text()
    # The engaged recipient sees the name.
    reader = await login(client, hub, engaged_reader)
    received = await (await client.get(f"{V1}/messages/{message_id}",
                                        headers=bearer(reader))).json()
    assert received["message"]["person"]["name"] == "Greta Garbo"


# -- 9. accounts that only administer receive no care messages --------------------------------

async def test_an_it_contact_in_a_unit_receives_nothing_and_is_not_in_the_receipts(client, hub):
    night = await make_org(hub, OrgKind.NIGHT_SERVICE)
    unit = await make_unit(hub, night)
    nurse = await make_user(hub, night, Role.STAFF, unit=unit)
    it = await make_user(hub, night, Role.IT_CONTACT, unit=unit)
    officer = await make_user(hub, night, Role.COMPLIANCE, unit=unit)
    group = await make_group(hub, night, unit, unit=unit)
    day = await make_org(hub, OrgKind.CITY_HOME_CARE)
    sender = await login(client, hub, await make_user(hub, day, Role.STAFF,
                                                      unit=await make_unit(hub, day)))
    sent = await client.post(f"{V1}/messages", headers=bearer(sender), json={
        "group_ids": [str(group)], "subject": "Nyckel", "body": "Nyckeln hänger i hallen"})
    assert sent.status == 201
    assert (await sent.json())["recipient_count"] == 1
    reached_users = set(await scalars(hub, reached()))
    assert reached_users == {nurse.id}
    receipts = await (await client.get(f"{V1}/messages/{(await sent.json())['id']}/receipts",
                                       headers=bearer(sender))).json()
    assert [r["user_id"] for g in receipts for r in g["recipients"]] == [str(nurse.id)]
    for account in (it, officer):
        token = await login(client, hub, account)
        inbox = await (await client.get(f"{V1}/inbox", headers=bearer(token))).json()
        assert inbox["items"] == []


async def test_an_it_contact_neither_sends_nor_reads_its_units_sent_messages(client, hub):
    night = await make_org(hub, OrgKind.NIGHT_SERVICE)
    unit = await make_unit(hub, night)
    nurse = await make_user(hub, night, Role.STAFF, unit=unit)
    it = await make_user(hub, night, Role.IT_CONTACT, unit=unit)
    day = await make_org(hub, OrgKind.CITY_HOME_CARE)
    day_unit = await make_unit(hub, day)
    await make_user(hub, day, Role.STAFF, unit=day_unit)
    group = await make_group(hub, day, day_unit, unit=day_unit)
    sent = await client.post(f"{V1}/messages", headers=bearer(await login(client, hub, nurse)),
                             json={"group_ids": [str(group)], "subject": "Natt",
                                   "body": "Sov gott"})
    assert sent.status == 201
    it_token = await login(client, hub, it)
    message_id = (await sent.json())["id"]
    assert (await client.get(f"{V1}/messages/{message_id}",
                             headers=bearer(it_token))).status == 404
    assert (await client.get(f"{V1}/messages/{message_id}/receipts",
                             headers=bearer(it_token))).status == 404
    own = await client.post(f"{V1}/messages", headers=bearer(it_token), json={
        "group_ids": [str(group)], "subject": "Test", "body": "Test"})
    assert own.status == 403
    # Nor can it be made a member of a group by name.
    it_contact = await login(client, hub, await make_user(hub, night, Role.IT_CONTACT))
    added = await client.post(f"{V1}/groups/{group}/members", headers=bearer(it_contact),
                              json={"user_id": str(it.id)})
    assert added.status in (404, 422)


# -- 10. staff with protected identity ----------------------------------------------------------

async def test_staff_with_protected_identity_show_unit_and_role_to_other_organizations(
        client, hub):
    night = await make_org(hub, OrgKind.NIGHT_SERVICE)
    night_unit = await make_unit(hub, night, "Natt Nordost")
    protected = await hub.admin.create_user(CLI_OPERATOR, NewUser(
        organization_id=night.id, username="natt.skyddad", display_name="Hemlig Person",
        password=PASSWORD, roles=frozenset({Role.STAFF}), unit_id=night_unit.id))
    colleague = await make_user(hub, night, Role.STAFF, unit=night_unit)
    night_it = await login(client, hub, await make_user(hub, night, Role.IT_CONTACT))
    flagged = await client.put(f"{V1}/users/{protected.user.id}/protected-identity",
                               headers=bearer(night_it), json={"protected_identity": True})
    assert flagged.status == 200 and (await flagged.json())["protected_identity"] is True
    night_group = await make_group(hub, night, night_unit, unit=night_unit)

    day = await make_org(hub, OrgKind.CITY_HOME_CARE)
    day_unit = await make_unit(hub, day, "Dag Centrum")
    day_account = await make_user(hub, day, Role.STAFF, unit=day_unit)
    day_group = await make_group(hub, day, day_unit, unit=day_unit)
    day_token = await login(client, hub, day_account)
    protected_token = await login(client, hub, type(colleague)(
        protected.user.id, "natt.skyddad", PASSWORD, protected.totp_secret, night.id,
        night_unit.id))

    # A message from the day unit: its receipts show the protected reader by unit and role.
    sent = await client.post(f"{V1}/messages", headers=bearer(day_token), json={
        "group_ids": [str(night_group)], "subject": "Kväll", "body": "Allt lugnt"})
    message_id = (await sent.json())["id"]
    assert (await client.get(f"{V1}/messages/{message_id}",
                             headers=bearer(protected_token))).status == 200
    receipts = await client.get(f"{V1}/messages/{message_id}/receipts",
                                headers=bearer(day_token))
    text = await receipts.text()
    assert "Hemlig" not in text
    rows = [r for g in await receipts.json() for r in g["recipients"]
            if r["user_id"] == str(protected.user.id)]
    assert rows[0]["name"] is None and rows[0]["role"] == "staff"
    assert rows[0]["unit"] == "Natt Nordost"
    # A reply from the protected nurse: the day unit sees unit and role, in inbox and thread.
    reply = await client.post(f"{V1}/messages", headers=bearer(protected_token), json={
        "group_ids": [str(day_group)], "subject": "Sv: Kväll", "body": "Tack",
        "reply_to": message_id})
    assert reply.status == 201, await reply.text()
    for path in (f"{V1}/inbox", f"{V1}/threads/{(await sent.json())['thread_id']}",
                 f"{V1}/messages/{(await reply.json())['id']}"):
        response = await client.get(path, headers=bearer(day_token))
        assert response.status == 200
        assert "Hemlig" not in await response.text(), path
    web = await client.get(f"/meddelanden/{(await reply.json())['id']}",
                           headers=await web_session(client, hub, day_account))
    assert "Hemlig" not in await web.text() and "Personal" in await web.text()
    # Colleagues of the same organization (here: of the unit that sent it) see the name.
    colleague_view = await client.get(f"{V1}/messages/{(await reply.json())['id']}",
                                      headers=bearer(await login(client, hub, colleague)))
    assert colleague_view.status == 200
    assert (await colleague_view.json())["message"]["sender"]["name"] == "Hemlig Person"

"""The administration and compliance pages over the web: what each role is offered,
secrets shown once and never kept in a URL or a cache, refusals said in Swedish with
what was typed kept."""

from __future__ import annotations

import re
import uuid
from html import unescape
from typing import Any

import pyotp

from hub.domain.roles import OrgKind, Role
from tests.factories import (
    Account,
    give_consent,
    make_group,
    make_org,
    make_person,
    make_unit,
    make_user,
    personnummer,
)
from tests.integration.conftest import login, web_session

# English words of the API's refusals that must not reach the Swedish pages.
ENGLISH = re.compile(r"\b(must|characters|groups|required|not valid|letters|digits|"
                     r"at most|at least|one of)\b")


def secrets_on(page: str) -> list[str]:
    return [unescape(s) for s in re.findall(r'<code class="secret">([^<]+)</code>', page)]


def errors_on(page: str) -> str:
    found = re.search(r'<div class="error" role="alert">(.*?)</div>', page, re.S)
    assert found, "no error shown"
    return unescape(re.sub(r"<[^>]+>", " ", found.group(1)))


async def test_an_it_contact_creates_an_account_whose_secrets_are_shown_once(
        client, hub) -> None:
    org = await make_org(hub)
    unit = await make_unit(hub, org, "Hemtjänst Centrum")
    it = await web_session(client, hub, await make_user(hub, org, Role.IT_CONTACT))
    response = await client.post("/admin/konton", headers=it, allow_redirects=False, data={
        "display_name": "Nora Natt", "username": "nora.natt", "unit_id": str(unit.id),
        "roles": "staff"})
    assert response.status == 201, await response.text()
    assert response.headers["Cache-Control"] == "no-store"
    page = await response.text()
    password, secret = secrets_on(page)
    assert 'src="data:image/svg+xml;base64,' in page  # the QR code, no outside request
    listed = await (await client.get("/admin/konton", headers=it)).text()
    assert "nora.natt" in listed and password not in listed and secret not in listed

    users = await hub.admin.list_users(await _actor(hub, org), org.id)
    nora = next(u.user for u in users if u.user.username == "nora.natt")
    account = Account(nora.id, "nora.natt", password, secret, org.id, unit.id)
    assert await login(client, hub, account)


async def test_a_refused_account_is_said_in_swedish_and_keeps_what_was_typed(
        client, hub) -> None:
    org = await make_org(hub)
    it_account = await make_user(hub, org, Role.IT_CONTACT)
    it = await web_session(client, hub, it_account)
    response = await client.post("/admin/konton", headers=it, data={
        "display_name": "Nora Natt", "username": "n!", "roles": "staff"})
    assert response.status == 422
    page = await response.text()
    said = errors_on(page)
    assert "Användarnamn: 3–64 tecken" in said and not ENGLISH.search(said), said
    assert 'value="Nora Natt"' in page

    taken = await client.post("/admin/konton", headers=it, data={
        "display_name": "Igen", "username": it_account.username, "roles": "staff"})
    assert taken.status == 409
    assert "användarnamnet är upptaget" in errors_on(await taken.text())


async def test_only_it_contacts_reach_the_administration_pages(client, hub) -> None:
    org = await make_org(hub)
    unit = await make_unit(hub, org)
    staff = await web_session(client, hub, await make_user(hub, org, Role.STAFF, unit=unit))
    for path in ("/admin/konton", "/admin/enheter", "/admin/grupper", "/admin/api-nycklar",
                 "/organisationer", "/granskning", "/granskning/atkomst"):
        response = await client.get(path, headers=staff, allow_redirects=False)
        assert response.status == 403, path
    refused = await client.post("/admin/konton", headers=staff, data={
        "display_name": "X", "username": "xx.yy", "roles": "it_contact"})
    assert refused.status == 403
    anonymous = await client.get("/admin/konton", allow_redirects=False)
    assert anonymous.status == 303 and anonymous.headers["Location"] == "/login"


async def test_an_it_contact_puts_an_account_in_a_group_and_a_reset_ends_its_sign_in(
        client, hub) -> None:
    org = await make_org(hub)
    unit = await make_unit(hub, org)
    it = await web_session(client, hub, await make_user(hub, org, Role.IT_CONTACT))
    staff = await make_user(hub, org, Role.STAFF, unit=unit)
    group = await make_group(hub, org, name="Jourhavande")
    added = await client.post(f"/admin/grupper/{group}/medlem", headers=it,
                              allow_redirects=False, data={"user_id": str(staff.id)})
    assert added.status == 303 and added.headers["Location"].endswith("?klart=sparat")
    page = await (await client.get(f"/admin/grupper/{group}", headers=it)).text()
    assert "Ändringen är sparad" not in page  # only after the redirect that says so
    members = await hub.groups.members(await _actor(hub, org), group)
    assert [m.member.user_id for m in members] == [staff.id]

    session = await login(client, hub, staff)
    reset = await client.post(f"/admin/konton/{staff.id}/aterstall", headers=it,
                              data={"confirm": "1"})
    assert reset.status == 200 and reset.headers["Cache-Control"] == "no-store"
    password, secret = secrets_on(await reset.text())
    gone = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {session}"})
    assert gone.status == 401
    assert await login(client, hub, Account(staff.id, staff.username, password, secret,
                                            org.id, unit.id))
    assert pyotp.TOTP(secret).now()


async def test_a_token_is_shown_once_on_the_page_that_created_it(client, hub) -> None:
    org = await make_org(hub)
    unit = await make_unit(hub, org)
    it = await web_session(client, hub, await make_user(hub, org, Role.IT_CONTACT))
    response = await client.post("/admin/api-nycklar", headers=it, data={
        "name": "Journalsystemet", "unit_id": str(unit.id), "scopes": ["read", "record"]})
    assert response.status == 201
    (token,) = secrets_on(await response.text())
    me = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status == 200
    again = await (await client.get("/admin/api-nycklar", headers=it)).text()
    assert "Journalsystemet" in again and token not in again
    assert "läsa enhetens meddelanden, journalföra" in again


async def test_the_operator_creates_an_organization_and_its_first_it_contact(
        client, hub) -> None:
    ops = await make_org(hub, OrgKind.OPERATIONS)
    operator = await web_session(client, hub, await make_user(hub, ops, Role.OPERATOR))
    created = await client.post("/organisationer", headers=operator, allow_redirects=False,
                                data={"name": "Nattpatrullen AB", "kind": "night_service",
                                      "org_number": "5560160680"})
    assert created.status == 303, await created.text()
    org_id = uuid.UUID(created.headers["Location"].split("/")[2].split("?")[0])
    first = await client.post(f"/organisationer/{org_id}/it-kontakt", headers=operator,
                              data={"display_name": "Ida IT", "username": "ida.it"})
    assert first.status == 201
    assert len(secrets_on(await first.text())) == 2
    bad = await client.post("/organisationer", headers=operator, data={
        "name": "Fel AB", "kind": "night_service", "org_number": "123"})
    assert bad.status == 422
    said = errors_on(await bad.text())
    assert "Organisationsnummer" in said and not ENGLISH.search(said), said


async def test_compose_and_consent_refusals_are_in_swedish_and_keep_the_form(
        client, hub) -> None:
    org = await make_org(hub)
    unit = await make_unit(hub, org)
    staff_account = await make_user(hub, org, Role.STAFF, unit=unit)
    staff = await web_session(client, hub, staff_account)
    response = await client.post("/skriv", headers=staff, data={
        "subject": "Hej", "body": "Text", "category": "general"})
    assert response.status == 422
    said = errors_on(await response.text())
    assert "Mottagare: välj 1–20 kontaktgrupper" in said and not ENGLISH.search(said), said

    person_id = await make_person(hub, personnummer=personnummer(7), engaged_units=(unit,))
    refused = await client.post(f"/personer/{person_id}/samtycke", headers=staff, data={
        "method": "oral", "scope": "all_involved", "valid_from": "2026-12-10",
        "valid_to": "2026-12-01"})
    assert refused.status == 422
    page = await refused.text()
    said = errors_on(page)
    assert "får inte vara före" in said and not ENGLISH.search(said), said
    assert 'value="2026-12-10"' in page and 'value="2026-12-01"' in page
    assert 'value="oral" checked' in page


async def test_an_override_is_reviewed_on_the_compliance_page(client, hub) -> None:
    """Sent by override (no engagement), the message waits in the officer's queue with
    the sender's reason; marked reviewed it leaves the queue, and the recipient's
    message page says it came by override."""
    ops = await make_org(hub, OrgKind.OPERATIONS)
    provider = await make_org(hub)
    unit = await make_unit(hub, provider)
    alarm = await make_org(hub, OrgKind.ALARM_SERVICE)
    alarm_unit = await make_unit(hub, alarm)
    sender = await make_user(hub, provider, Role.STAFF, unit=unit)
    receiver = await make_user(hub, alarm, Role.STAFF, unit=alarm_unit)
    group = await make_group(hub, alarm, unit=alarm_unit)
    await make_person(hub, personnummer=personnummer(8), engaged_units=(unit,))
    page = await web_session(client, hub, sender)
    reason = "Larmet tjuter och ingen svarar hos honom i natt"
    sent = await client.post("/skriv", headers=page, allow_redirects=False, data={
        "group_ids": str(group), "subject": "Larm", "body": "Titta till",
        "personnummer": personnummer(8), "emergency_reason": reason})
    assert sent.status == 303, await sent.text()
    message_url = sent.headers["Location"].split("?")[0]
    seen = await (await client.get(message_url, headers=await web_session(
        client, hub, receiver))).text()
    assert 'class="badge emergency"' in seen

    officer = await web_session(client, hub, await make_user(hub, ops, Role.COMPLIANCE))
    queue = await (await client.get("/granskning", headers=officer)).text()
    assert reason in queue
    override_id = re.search(r'action="/granskning/nodatkomst/([0-9a-f-]+)"', queue).group(1)
    empty = await client.post(f"/granskning/nodatkomst/{override_id}", headers=officer,
                              data={"comment": " "})
    assert empty.status == 422
    assert "Kommentar" in errors_on(await empty.text())
    done = await client.post(f"/granskning/nodatkomst/{override_id}", headers=officer,
                             allow_redirects=False, data={"comment": "Rimligt"})
    assert done.status == 303
    assert reason not in await (await client.get("/granskning", headers=officer)).text()
    reviewed = await (await client.get("/granskning?ko=granskade", headers=officer)).text()
    assert reason in reviewed and "Rimligt" in reviewed


async def _actor(hub: Any, org: Any) -> Any:
    from hub.services.actor import Actor

    return Actor(kind="user", organization_id=org.id, user_id=uuid.uuid4(),
                 roles=frozenset({Role.IT_CONTACT}))


async def test_an_officer_searches_exports_and_verifies_the_log_in_the_browser(
        client, hub) -> None:
    ops = await make_org(hub, OrgKind.OPERATIONS)
    provider = await make_org(hub)
    unit = await make_unit(hub, provider)
    await make_person(hub, personnummer=personnummer(9), engaged_units=(unit,))
    officer = await web_session(client, hub, await make_user(hub, ops, Role.COMPLIANCE))
    found = await client.post("/granskning/logg", headers=officer, data={
        "personnummer": personnummer(9), "action": "engagement.create"})
    assert found.status == 200
    page = await found.text()
    assert "Registrerade insats" in page and personnummer(9) not in found.url.path

    export = await client.post("/granskning/logg/export", headers=officer, data={
        "action": "person.register", "format": "csv"})
    assert export.status == 200
    assert export.headers["Content-Disposition"].startswith("attachment;")
    lines = (await export.text()).strip().splitlines()
    assert len(lines) >= 2 and "person.register" in lines[1]

    verified = await client.post("/granskning/verifiera", headers=officer, data={"go": "1"})
    assert verified.status == 200
    body = await verified.text()
    size = await hub.audit.size()
    assert f"{size} av {size} poster kontrollerade" in body
    assert "Loggen är hel" in body
    # An organization's own officer does not verify the whole log.
    own = await web_session(client, hub, await make_user(hub, provider, Role.COMPLIANCE))
    assert (await client.post("/granskning/verifiera", headers=own,
                              data={"go": "1"})).status == 403


async def test_out_of_range_dates_and_cursors_are_refused_not_failed(client, hub) -> None:
    ops = await make_org(hub, OrgKind.OPERATIONS)
    org = await make_org(hub)
    it = await web_session(client, hub, await make_user(hub, org, Role.IT_CONTACT))
    token = await client.post("/admin/api-nycklar", headers=it, data={
        "name": "Klient", "expires_on": "9999-12-31"})
    assert token.status == 422
    officer = await web_session(client, hub, await make_user(hub, ops, Role.COMPLIANCE))
    for data in ({"until": "9999-12-31"}, {"before": str(10**30)}, {"before": "-1"},
                 {"since": "31-12-2026"}):
        response = await client.post("/granskning/logg", headers=officer, data=data)
        assert response.status == 422, (data, response.status)
    export = await client.post("/granskning/logg/export", headers=officer, data={
        "until": "9999-12-31", "format": "csv"})
    assert export.status == 422


async def test_a_reset_sign_in_is_in_the_officers_queue_of_role_changes(client, hub) -> None:
    ops = await make_org(hub, OrgKind.OPERATIONS)
    org = await make_org(hub)
    unit = await make_unit(hub, org)
    it = await web_session(client, hub, await make_user(hub, org, Role.IT_CONTACT))
    staff = await make_user(hub, org, Role.STAFF, unit=unit)
    reset = await client.post(f"/admin/konton/{staff.id}/aterstall", headers=it,
                              data={"confirm": "1"})
    assert reset.status == 200
    officer = await web_session(client, hub, await make_user(hub, ops, Role.COMPLIANCE))
    queue = await (await client.get("/granskning?ko=roller", headers=officer)).text()
    assert "Återställde inloggning" in queue


async def test_a_case_worker_who_finds_nobody_can_register_the_number_at_once(
        client, hub) -> None:
    org = await make_org(hub, OrgKind.CASE_MANAGEMENT)
    unit = await make_unit(hub, org)
    case_worker = await web_session(client, hub, await make_user(
        hub, org, Role.CASE_WORKER, unit=unit))
    response = await client.post("/personer", headers=case_worker,
                                 data={"personnummer": personnummer(11)})
    assert response.status == 404
    page = await response.text()
    assert 'action="/personer/ny"' in page
    assert f'value="{personnummer(11)}"' in page


async def test_replying_names_the_person_without_another_reading(client, hub) -> None:
    org = await make_org(hub)
    unit = await make_unit(hub, org)
    night = await make_org(hub, OrgKind.NIGHT_SERVICE)
    night_unit = await make_unit(hub, night)
    sender = await make_user(hub, night, Role.STAFF, unit=night_unit)
    reader = await make_user(hub, org, Role.STAFF, unit=unit)
    group = await make_group(hub, org, unit=unit)
    await make_group(hub, night, unit=night_unit)
    person_id = await make_person(hub, personnummer=personnummer(12), name="Greta Svar",
                                  engaged_units=(unit, night_unit))
    await give_consent(hub, person_id)
    page = await web_session(client, hub, sender)
    sent = await client.post("/skriv", headers=page, allow_redirects=False, data={
        "group_ids": str(group), "subject": "Om Greta", "body": "Hej",
        "personnummer": personnummer(12)})
    assert sent.status == 303, await sent.text()
    message_id = sent.headers["Location"].split("/")[2].split("?")[0]
    reading = await web_session(client, hub, reader)
    size = await hub.audit.size()
    compose = await (await client.get(f"/skriv?svar={message_id}", headers=reading)).text()
    assert "Greta Svar" in compose and f'name="person_id" value="{person_id}"' in compose
    assert await hub.audit.size() == size  # the reply form read nothing new about Greta
    replied = await client.post("/skriv", headers=reading, allow_redirects=False, data={
        "group_ids": re.findall(r'name="group_ids" value="([^"]+)" checked', compose),
        "subject": "Sv: Om Greta", "body": "Tack", "reply_to": message_id,
        "person_id": str(person_id)})
    assert replied.status == 303, await replied.text()
    reply_id = uuid.UUID(replied.headers["Location"].split("/")[2].split("?")[0])
    reply = await hub.inbox.summary(await _staff_actor(hub, sender), reply_id)
    assert reply.person is not None and reply.person.id == person_id


async def _staff_actor(hub: Any, account: Account) -> Any:
    from hub.services.actor import Actor

    return Actor(kind="user", organization_id=account.organization_id, user_id=account.id,
                 unit_id=account.unit_id, roles=frozenset({Role.STAFF}))

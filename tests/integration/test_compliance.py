"""The compliance officer's review: search, export, access report, review queues,
checkpoints and proofs over the API, and `hub audit verify` on the command line."""

from __future__ import annotations

import base64
import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, text

import keys
from hub.domain.audit import Action, AuditEvent, canonical_of_columns
from hub.domain.roles import OrgKind, Role
from tests.factories import (
    give_consent,
    make_group,
    make_org,
    make_person,
    make_unit,
    make_user,
)
from tests.integration.conftest import bearer, login
from tests.stored import execute

PNR = "19121212-1212"


async def _world(client: Any, hub: Any) -> dict[str, Any]:
    day_org = await make_org(hub, OrgKind.PRIVATE_HOME_CARE, name="Omsorg Väst AB")
    day_unit = await make_unit(hub, day_org, "Hemtjänst Majorna")
    sender = await make_user(hub, day_org, Role.STAFF, unit=day_unit)
    day_officer = await make_user(hub, day_org, Role.COMPLIANCE)
    night_org = await make_org(hub, OrgKind.NIGHT_SERVICE, name="Hemtjänst natt")
    night_unit = await make_unit(hub, night_org, "Natt Nordost")
    reader = await make_user(hub, night_org, Role.STAFF, unit=night_unit)
    alarm_org = await make_org(hub, OrgKind.ALARM_SERVICE, name="Trygghetslarm")
    alarm_unit = await make_unit(hub, alarm_org, "Larmcentralen")
    alarm_staff = await make_user(hub, alarm_org, Role.STAFF, unit=alarm_unit)
    ops = await make_org(hub, OrgKind.OPERATIONS, name="Drift")
    city_officer = await make_user(hub, ops, Role.COMPLIANCE)
    group = await make_group(hub, night_org, night_unit)
    person = await make_person(hub, PNR, engaged_units=(day_unit, night_unit))
    await give_consent(hub, person)  # a private provider tells the city's night service
    sender_token = await login(client, hub, sender)
    response = await client.post("/api/v1/messages", headers=bearer(sender_token), json={
        "group_ids": [str(group)], "subject": "Fall i natt", "person_id": str(person)})
    assert response.status == 201
    message_id = (await response.json())["id"]
    reader_token = await login(client, hub, reader)
    assert (await client.get(f"/api/v1/messages/{message_id}",
                             headers=bearer(reader_token))).status == 200
    # The alarm service has no engagement: the lookup is refused (and logged).
    alarm_token = await login(client, hub, alarm_staff)
    assert (await client.get(f"/api/v1/persons/{person}",
                             headers=bearer(alarm_token))).status == 404
    return {"day_org": day_org, "night_org": night_org, "alarm_org": alarm_org,
            "sender": sender, "reader": reader, "person": person, "message_id": message_id,
            "day_officer": day_officer, "city_officer": city_officer,
            "alarm_staff": alarm_staff, "sender_token": sender_token,
            "reader_token": reader_token}


async def test_search_by_personnummer_is_scoped_to_the_officers_organization(client, hub):
    w = await _world(client, hub)
    city = await login(client, hub, w["city_officer"])
    response = await client.post("/api/v1/audit/search", headers=bearer(city),
                                 json={"personnummer": "121212+1212"})
    assert response.status == 200
    page = await response.json()
    actions = [(e["action"], e["outcome"]) for e in page["items"]]
    assert ("message.send", "success") in actions
    assert ("message.open", "success") in actions
    assert ("person.lookup", "refused") in actions
    assert all(e["person_id"] == str(w["person"]) for e in page["items"])
    opened = next(e for e in page["items"] if e["action"] == "message.open")
    assert opened["actor"]["name"] == f"Test {w['reader'].username}"
    assert opened["targets"] == {"message": w["message_id"]}

    # The private provider's officer sees its own organization's entries only.
    day = await login(client, hub, w["day_officer"])
    response = await client.post("/api/v1/audit/search", headers=bearer(day),
                                 json={"person_id": str(w["person"])})
    seen = {e["action"] for e in (await response.json())["items"]}
    assert "message.send" in seen and "message.open" in seen  # actor or target
    assert "person.lookup" not in seen  # the alarm service's refused lookup

    # An officer of an organization without an engagement cannot tell whether a
    # personnummer is registered: the answer and the log look as for a stranger.
    alarm_officer = await make_user(hub, w["alarm_org"], Role.COMPLIANCE)
    alarm = await login(client, hub, alarm_officer)
    for number in (PNR, "19451103-9846"):
        response = await client.post("/api/v1/audit/search", headers=bearer(alarm),
                                     json={"personnummer": number})
        assert (await response.json())["items"] == []
    mine = await (await client.post("/api/v1/audit/search", headers=bearer(alarm),
                                    json={"action": "audit.search"})).json()
    assert [e["person_id"] for e in mine["items"]] == [None, None]

    # Staff may not search at all.
    staff = w["reader_token"]
    response = await client.post("/api/v1/audit/search", headers=bearer(staff), json={})
    assert response.status == 403


async def test_search_pages_with_a_cursor_and_filters(client, hub):
    w = await _world(client, hub)
    city = await login(client, hub, w["city_officer"])
    seen: list[int] = []
    before = None
    while True:
        body: dict[str, Any] = {"limit": 3, "action": "login"}
        if before is not None:
            body["before"] = before
        page = await (await client.post("/api/v1/audit/search", headers=bearer(city),
                                        json=body)).json()
        seen += [e["seq"] for e in page["items"]]
        assert all(e["action"] == "login" for e in page["items"])
        before = page["next_before"]
        if before is None:
            break
    assert seen == sorted(seen, reverse=True) and len(seen) == len(set(seen)) >= 4
    bad = await client.post("/api/v1/audit/search", headers=bearer(city),
                            json={"personnummer": "19121212-1213"})
    assert bad.status == 422
    assert "19121212" not in await bad.text()


async def test_export_streams_csv_and_json_lines_and_is_audited(client, hub):
    w = await _world(client, hub)
    city = await login(client, hub, w["city_officer"])
    size_before = await hub.audit.size()
    response = await client.post("/api/v1/audit/export", headers=bearer(city),
                                 json={"format": "csv"})
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(await response.text())))
    assert rows[0][:4] == ["seq", "time", "action", "outcome"]
    assert [r[2] for r in rows[1:2]] == ["audit.export"]  # newest first: the export itself
    assert len(rows) - 1 == size_before + 1

    response = await client.post("/api/v1/audit/export", headers=bearer(city),
                                 json={"format": "jsonl", "action": "message.open"})
    lines = [json.loads(line) for line in (await response.text()).splitlines()]
    assert [e["action"] for e in lines] == ["message.open"]
    exported = await (await client.post("/api/v1/audit/search", headers=bearer(city),
                                        json={"action": "audit.export"})).json()
    assert len(exported["items"]) == 2
    assert exported["items"][0]["detail"] == {"format": "jsonl"}


async def test_the_access_report_names_everyone_who_opened_the_person(client, hub):
    w = await _world(client, hub)
    city = await login(client, hub, w["city_officer"])
    response = await client.post("/api/v1/audit/access-report", headers=bearer(city),
                                 json={"personnummer": PNR})
    assert response.status == 200
    report = await response.json()
    assert [g["organization"] for g in report] == ["Hemtjänst natt"]
    (access,) = report[0]["accesses"]
    assert (access["action"], access["name"], access["unit"], access["message_id"]) == (
        "message.open", f"Test {w['reader'].username}", "Natt Nordost", w["message_id"])
    assert "121212" not in await response.text()
    logged = await (await client.post("/api/v1/audit/search", headers=bearer(city),
                                      json={"action": "audit.access_report"})).json()
    assert logged["items"][0]["person_id"] == str(w["person"])


async def test_review_queues_list_refusals_and_repeated_failed_sign_ins(client, hub, clock):
    w = await _world(client, hub)
    other = await make_person(hub, "19380412-9827", "Astrid Demosson")
    sender_token = w["sender_token"]
    groups = await (await client.get("/api/v1/groups", headers=bearer(sender_token))).json()
    night_group = next(g["id"] for g in groups if g["organization"]["name"] == "Hemtjänst natt")
    refused = await client.post("/api/v1/messages", headers=bearer(sender_token), json={
        "group_ids": [night_group], "subject": "x", "person_id": str(other)})
    assert refused.status == 403
    # The officers sign in first: the failures below throttle this client address.
    city = await login(client, hub, w["city_officer"])
    day = await login(client, hub, w["day_officer"])
    for _ in range(6):
        clock.advance(seconds=40)
        await client.post("/api/v1/auth/login", json={
            "username": w["alarm_staff"].username, "password": "not-the-password",
            "totp": "000000"})
    queue = await (await client.get("/api/v1/audit/review/refusals",
                                    headers=bearer(city))).json()
    assert [(e["person_id"], e["detail"]) for e in queue["items"]] == [
        (str(other), {"rules": "care_relationship"})]
    failed = await (await client.get("/api/v1/audit/review/failed-logins?threshold=5",
                                     headers=bearer(city))).json()
    assert [(f["user_id"], f["failures"] >= 5) for f in failed] == [
        (str(w["alarm_staff"].id), True)]
    assert await (await client.get("/api/v1/audit/review/failed-logins",
                                   headers=bearer(day))).json() == []


async def test_checkpoints_and_proofs_over_the_api_verify_with_the_published_key(
        client, hub, clock):
    w = await _world(client, hub)
    first = await hub.audit.checkpoint(force=True)
    clock.advance(seconds=30)
    await login(client, hub, w["sender"])
    second = await hub.audit.checkpoint(force=True)
    assert first is not None and second is not None and first < second
    city = await login(client, hub, w["city_officer"])
    listing = await (await client.get("/api/v1/audit/checkpoints",
                                      headers=bearer(city))).json()
    name, public = keys.parse_verifier_key(listing["verifier_key"])
    old, new = (keys.open_checkpoint(c["note"], public, name)
                for c in listing["checkpoints"][:2])
    assert (old.size, new.size) == (first, second)

    entry = await (await client.get(f"/api/v1/audit/entries/{first - 1}",
                                    headers=bearer(city))).json()
    leaf = keys.leaf_hash(base64.b64decode(entry["canonical"]))
    assert base64.b64encode(leaf).decode() == entry["leaf_hash"]
    proof = await (await client.get(
        f"/api/v1/audit/proofs/inclusion?seq={first - 1}&size={second}",
        headers=bearer(city))).json()
    assert keys.verify_inclusion(leaf, first - 1, second,
                                 [base64.b64decode(p) for p in proof["proof"]], new.root)
    consistency = await (await client.get(
        f"/api/v1/audit/proofs/consistency?old={first}&new={second}",
        headers=bearer(city))).json()
    assert keys.verify_consistency(first, second, old.root, new.root,
                                   [base64.b64decode(p) for p in consistency["proof"]])
    missing = await client.get(f"/api/v1/audit/proofs/consistency?old={first - 1}&new={second}",
                               headers=bearer(city))
    assert missing.status == 404

    verified = await (await client.post("/api/v1/audit/verify", headers=bearer(city))).json()
    assert verified["ok"] and verified["last_verified"]["size"] == second

    # An organization's officer: no proof for an entry outside their view, no
    # whole-log verification, and numbers too large for the log are bad input.
    day = await login(client, hub, w["day_officer"])
    city_only = await (await client.post("/api/v1/audit/search", headers=bearer(city),
                                         json={"organization_id": str(w["alarm_org"].id)})
                       ).json()
    hidden = city_only["items"][-1]["seq"]
    for path in (f"/api/v1/audit/entries/{hidden}",
                 f"/api/v1/audit/proofs/inclusion?seq={hidden}&size={second}"):
        assert (await client.get(path, headers=bearer(day))).status == 404
    assert (await client.post("/api/v1/audit/verify", headers=bearer(day))).status == 403
    huge = 10**23
    for method, path, body in (
            ("GET", f"/api/v1/audit/entries/{huge}", None),
            ("GET", f"/api/v1/audit/review/refusals?before={huge}", None),
            ("GET", f"/api/v1/audit/checkpoints?after={huge}", None),
            ("GET", f"/api/v1/audit/proofs/inclusion?seq=1&size={huge}", None),
            ("GET", f"/api/v1/audit/review/failed-logins?threshold={huge}", None),
            ("POST", "/api/v1/audit/search", {"before": huge})):
        response = await client.request(method, path, headers=bearer(city), json=body)
        assert response.status in (404, 422), (path, response.status)


def _cli(settings: Any, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, HUB_DATABASE_URL=settings.database_url,
               HUB_MASTER_KEY=settings.master_key.get_secret_value(),
               HUB_DATA_DIR=str(settings.data_dir), HUB_TLS="false")
    if settings.database_schema:
        env["HUB_DATABASE_SCHEMA"] = settings.database_schema
    hub_command = Path(sys.executable).parent / "hub"
    return subprocess.run([str(hub_command), *args], env=env, capture_output=True, text=True,
                          timeout=120)


async def test_hub_audit_verify_passes_then_names_the_edited_entry(client, hub, settings,
                                                                   tmp_path):
    await _world(client, hub)
    witness = tmp_path / "witness.txt"
    result = _cli(settings, "audit", "checkpoint", "--witness", str(witness))
    assert result.returncode == 0, result.stderr
    printed = _cli(settings, "audit", "checkpoint")  # the same note, on stdout
    (tmp_path / "printed.txt").write_text(printed.stdout)
    vkey = _cli(settings, "audit", "key").stdout.strip()
    assert keys.parse_verifier_key(vkey)[1] == hub.audit.public_key
    result = _cli(settings, "audit", "verify", "--witness", str(tmp_path / "printed.txt"),
                  "--witness-key", vkey)
    assert result.returncode == 0, result.stderr
    result = _cli(settings, "audit", "verify", "--witness", str(witness))
    assert result.returncode == 0, result.stderr
    assert "OK" in result.stdout and "1 witness" in result.stdout

    await execute(hub, text("UPDATE audit_entry SET outcome = 'failure' WHERE seq = 7"))
    result = _cli(settings, "audit", "verify")
    assert result.returncode == 1
    assert "entry 7" in result.stderr and "edited" in result.stderr


def _hashes(conn: Connection, seq: int) -> tuple[bytes, bytes]:
    row = conn.execute(text("SELECT leaf_hash, chain_hash FROM audit_entry WHERE seq = :k"),
                       {"k": seq}).one()
    return bytes(row[0]), bytes(row[1])


async def test_hub_audit_verify_names_the_first_break_and_counts_the_entries_before_it(
        client, hub, settings):
    w = await _world(client, hub)
    def garble(conn: Connection) -> bytes:
        good_chain = _hashes(conn, 3)[1]
        conn.execute(text("UPDATE audit_entry SET chain_hash = leaf_hash WHERE seq = 3"))
        conn.execute(text("UPDATE audit_entry SET outcome = 'failure' WHERE seq = 7"))
        return good_chain

    good_chain = await hub.db.interaction(garble, write=True)
    result = _cli(settings, "audit", "verify")
    assert result.returncode == 1
    assert "BROKEN at entry 3: the chain hash stored with entry 3 is garbled" in result.stderr
    assert "Checked before the break: 3 entries" in result.stdout

    # Mended; then rewritten with recomputed hashes after a signed checkpoint: only
    # the next checkpoint can tell, and not which of its entries changed.
    def mend(conn: Connection) -> None:
        conn.execute(text("UPDATE audit_entry SET chain_hash = :c WHERE seq = 3"),
                     {"c": good_chain})
        conn.execute(text("UPDATE audit_entry SET outcome = 'success' WHERE seq = 7"))

    await hub.db.interaction(mend, write=True)
    first = await hub.audit.checkpoint(force=True)
    await hub.audit.append_many([AuditEvent(Action.LOGOUT, actor_user_id=w["sender"].id)] * 5)
    second = await hub.audit.checkpoint(force=True)
    assert first is not None and second is not None and second > first + 1
    def rewrite(conn: Connection) -> None:
        conn.execute(text("UPDATE audit_entry SET client = '198.51.100.7' WHERE seq = :k"),
                     {"k": first + 1})
        chain = _hashes(conn, first)[1]
        for seq in range(first + 1, second):
            row = conn.execute(text("SELECT * FROM audit_entry WHERE seq = :k"),
                               {"k": seq}).mappings().one()
            leaf = keys.leaf_hash(canonical_of_columns(seq, row["at_us"], row))
            chain = keys.node_hash(chain, leaf)
            conn.execute(text("UPDATE audit_entry SET leaf_hash = :l, chain_hash = :c "
                              "WHERE seq = :k"), {"l": leaf, "c": chain, "k": seq})
        conn.execute(text("UPDATE audit_head SET chain_hash = :c"), {"c": chain})

    await hub.db.interaction(rewrite, write=True)
    result = _cli(settings, "audit", "verify")
    assert result.returncode == 1
    assert f"BROKEN between entries {first} and {second - 1}:" in result.stderr
    assert f"Checked before the break: {first} entries" in result.stdout

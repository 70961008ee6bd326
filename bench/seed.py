"""Seeding a fresh hub for a benchmark, through the hub's own services."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from hub.app import build_hub
from hub.config import load_settings
from hub.domain.roles import OrgKind, Role
from hub.services.actor import CLI_OPERATOR, Actor
from hub.services.admin import NewOrganization, NewUser

PASSWORD = "bench-password-2026"  # noqa: S105  (synthetic benchmark accounts)


async def seed(members: int, senders: int, out: Path) -> None:
    hub = build_hub(load_settings())
    try:
        sender_org = await hub.admin.create_organization(CLI_OPERATOR, NewOrganization(
            "Bench Omsorg AB", OrgKind.PRIVATE_HOME_CARE, "5591234561", "5591234561"))
        night = await hub.admin.create_organization(CLI_OPERATOR, NewOrganization(
            "Bench Natt", OrgKind.NIGHT_SERVICE, "2120001355", "2120001355"))
        unit = await hub.admin.create_unit(CLI_OPERATOR, night.id, "Natt Nordost")

        async def user(org_id, name, unit_id=None):
            created = await hub.admin.create_user(CLI_OPERATOR, NewUser(
                organization_id=org_id, username=name, display_name=name, password=PASSWORD,
                roles=frozenset({Role.STAFF}), unit_id=unit_id))
            return {"username": name, "totp_secret": created.totp_secret}

        sender_accounts = [await user(sender_org.id, f"sender{i}") for i in range(senders)]
        member_accounts = [await user(night.id, f"member{i}", unit.id) for i in range(members)]
        it = Actor(kind="user", organization_id=night.id, roles=frozenset({Role.IT_CONTACT}))
        group = await hub.groups.create(it, "Bench Natt Nordost", unit_id=unit.id)
        out.write_text(json.dumps({
            "password": PASSWORD, "group_id": str(group.id), "senders": sender_accounts,
            "listener": member_accounts[0]}))
    finally:
        await hub.close()


if __name__ == "__main__":
    asyncio.run(seed(int(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3])))

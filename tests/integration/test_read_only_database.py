"""A PostgreSQL database that turns read-only and back (a failover, a full disk, an
operator's `default_transaction_read_only`): signed-in reads go on, writes get a 503
that says to try again, and the hub writes again as soon as the database does."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from hub.config import Settings
from hub.db.engine import create_engine
from hub.domain.roles import Role
from tests.conftest import PG_URL, TestDatabase
from tests.factories import make_org, make_user
from tests.integration.conftest import bearer, login

PROBLEM_JSON = "application/problem+json"

only_postgresql = pytest.mark.parametrize("database", [pytest.param(
    "postgresql", marks=pytest.mark.skipif(PG_URL is None, reason="HUB_TEST_DATABASE_URL unset"),
)], indirect=True)


async def as_superuser(*statements: str) -> None:
    assert PG_URL is not None
    engine = create_engine(PG_URL)
    try:
        async with engine.begin() as conn:
            for statement in statements:
                await conn.execute(text(statement))
    finally:
        await engine.dispose()


@pytest.fixture
async def hub_role(database: TestDatabase) -> AsyncIterator[tuple[str, str]]:
    """A login role of this test alone, with rights on the test schema only: the
    shared database and the postgres role stay as they are for parallel runs.
    Returns the role's name and a database URL that signs in as it."""
    assert PG_URL is not None and database.schema is not None
    role = f"hub_ro_{secrets.token_hex(6)}"
    password = secrets.token_hex(16)
    schema = database.schema
    await as_superuser(
        f"CREATE ROLE {role} LOGIN PASSWORD '{password}'",
        f'GRANT USAGE ON SCHEMA "{schema}" TO {role}',
        f'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA "{schema}" TO {role}',
        f'GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA "{schema}" TO {role}',
    )
    url = make_url(PG_URL).set(username=role, password=password)
    try:
        yield role, url.render_as_string(hide_password=False)
    finally:
        await as_superuser(
            f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{role}'",
            f"DROP OWNED BY {role}",
            f"DROP ROLE {role}",
        )


@pytest.fixture
def settings(settings: Settings, hub_role: tuple[str, str]) -> Settings:
    """The test's one hub signs in to PostgreSQL as the test's own role; search_path
    (the per-session test schema) comes with every connection it opens."""
    return settings.model_copy(update={"database_url": hub_role[1]})


@only_postgresql
async def test_a_read_only_database_keeps_reads_refuses_writes_with_503_and_recovers_at_once(
        client: Any, clock: Any, hub: Any, hub_role: tuple[str, str]) -> None:
    role, _url = hub_role
    org = await make_org(hub)
    it = await make_user(hub, org, Role.IT_CONTACT)
    token = await login(client, hub, it)
    units = f"/api/v1/organizations/{org.id}/units"
    before = await client.post(units, json={"name": "Före"}, headers=bearer(token))
    assert before.status == 201, await before.text()
    clock.advance(minutes=2)  # `token` is now due to record its use (a write) ...
    fresh = await login(client, hub, it)  # ... and `fresh` is not, for a while

    await as_superuser(
        f"ALTER ROLE {role} SET default_transaction_read_only = on",
        # Its open connections end: the hub's next ones are read-only.
        f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{role}'")

    for path in ("/api/v1/me", f"/api/v1/organizations/{org.id}/users", units):
        read = await client.get(path, headers=bearer(token))
        assert read.status == 200, (path, await read.text())
    refused = await client.post(units, json={"name": "Under"}, headers=bearer(fresh))
    assert refused.status == 503, await refused.text()
    assert refused.content_type == PROBLEM_JSON
    body = await refused.json()
    assert body["code"] == "service_unavailable"
    assert int(refused.headers["Retry-After"]) >= 1
    # Reads go on after a refused write; these write nothing, so the read-only
    # connection they were served on stays in the pool.
    for _ in range(2):
        assert (await client.get(units, headers=bearer(fresh))).status == 200

    await as_superuser(f"ALTER ROLE {role} RESET default_transaction_read_only")

    after = await client.post(units, json={"name": "Efter"}, headers=bearer(fresh))
    assert after.status == 201, await after.text()
    listed = await client.get(units, headers=bearer(token))
    assert sorted(u["name"] for u in await listed.json()) == ["Efter", "Före"]

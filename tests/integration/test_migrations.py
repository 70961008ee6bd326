"""The migrated schema is the schema the code declares, and it refuses what the code
must never write (STYLE.md: constraints live in the schema too)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import CheckConstraint, Table, func, insert, inspect, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import SQLModel

from hub.db import models as m
from hub.db.engine import create_engine
from hub.db.migrate import alembic_config, current_revision, head_revision
from tests.conftest import TestDatabase

NOW = dt.datetime(2024, 6, 1, 12, 0, tzinfo=dt.UTC)
CITY = "2120001355"


@pytest.fixture
async def engine(database: TestDatabase) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database.url, database.schema)
    yield engine
    await engine.dispose()


def table(model: Any) -> Table:
    result: Table = model.__table__
    return result


async def test_database_is_at_the_head_revision(engine: AsyncEngine) -> None:
    assert await current_revision(engine) == head_revision()


async def test_migrated_schema_matches_the_models(engine: AsyncEngine) -> None:
    def diff(sync_conn: Any) -> list[Any]:
        context = MigrationContext.configure(sync_conn, opts={
            "compare_type": True, "compare_server_default": True})
        return list(compare_metadata(context, SQLModel.metadata))

    async with engine.connect() as conn:
        differences = await conn.run_sync(diff)
    # Nothing ignored: tables, columns, types, nullability, indexes, unique and
    # foreign keys must all agree. (Alembic leaves its own alembic_version out.)
    assert differences == []


async def test_every_check_constraint_of_the_models_exists_in_the_database(
    engine: AsyncEngine,
) -> None:
    # compare_metadata does not look at CHECK constraints, so compare their names.
    declared = {
        (t.name, c.name)
        for t in SQLModel.metadata.tables.values()
        for c in t.constraints if isinstance(c, CheckConstraint)
    }

    def present(sync_conn: Any) -> set[tuple[str, str]]:
        inspector = inspect(sync_conn)
        return {(name, c["name"]) for name in inspector.get_table_names()
                for c in inspector.get_check_constraints(name)}

    async with engine.connect() as conn:
        found = await conn.run_sync(present)
    assert declared
    assert declared <= found


# -- CHECK constraints refuse raw rows ---------------------------------------------------

async def insert_rows(engine: AsyncEngine, *rows: tuple[Any, dict[str, Any]]) -> None:
    async with engine.begin() as conn:
        for model, values in rows:
            await conn.execute(insert(table(model)).values(**values))


def org_row(**changes: Any) -> tuple[Any, dict[str, Any]]:
    values = {"id": uuid.uuid4(), "name": f"Org {uuid.uuid4().hex[:8]}",
              "kind": "city_home_care", "org_number": CITY, "authority": CITY,
              "created_at": NOW}
    return m.Organization, {**values, **changes}


async def parents(engine: AsyncEngine) -> dict[str, uuid.UUID]:
    """An organization, a unit, an account and a person, inserted as raw valid rows."""
    ids = {"org": uuid.uuid4(), "unit": uuid.uuid4(), "user": uuid.uuid4(),
           "person": uuid.uuid4()}
    await insert_rows(
        engine,
        org_row(id=ids["org"]),
        (m.Unit, {"id": ids["unit"], "organization_id": ids["org"], "name": "Natt",
                  "created_at": NOW}),
        (m.User, {"id": ids["user"], "organization_id": ids["org"], "username": "anna",
                  "display_name": "A", "password_hash": "x", "totp_secret": b"x",
                  "totp_last_step": 0, "created_at": NOW}),
        (m.Person, {"id": ids["person"], "personnummer_enc": b"sealed",
                    "personnummer_index": "a" * 64, "name_enc": b"sealed",
                    "protected_identity": False, "created_at": NOW}),
    )
    return ids


async def assert_refused(engine: AsyncEngine, constraint: str,
                         row: tuple[Any, dict[str, Any]]) -> None:
    with pytest.raises(IntegrityError) as caught:
        await insert_rows(engine, row)
    assert constraint in str(caught.value.orig)


async def test_valid_raw_rows_are_accepted(engine: AsyncEngine) -> None:
    ids = await parents(engine)
    await insert_rows(
        engine,
        (m.UserRole, {"user_id": ids["user"], "role": "staff"}),
        (m.Engagement, {"id": uuid.uuid4(), "person_id": ids["person"], "unit_id": ids["unit"],
                        "service_kind": "home_care", "starts_on": dt.date(2024, 1, 1),
                        "ends_on": dt.date(2024, 1, 1), "created_at": NOW}),
    )


async def test_organization_kind_outside_the_enum_is_refused(engine: AsyncEngine) -> None:
    await assert_refused(engine, "ck_organization_kind", org_row(kind="bank"))


@pytest.mark.parametrize(("column", "value"), [("org_number", "212000135"),
                                               ("authority", "21200013")])
async def test_organization_number_of_the_wrong_length_is_refused(
    engine: AsyncEngine, column: str, value: str
) -> None:
    await assert_refused(engine, f"ck_organization_{column}", org_row(**{column: value}))


async def test_a_system_clients_role_counts_as_a_change_of_whom_groups_reach(
        engine: AsyncEngine) -> None:
    """0021 rebuilt account_role's CHECK (SQLite: the whole table) for system_client:
    the role is stored, and the directory-version triggers of 0011 still count it."""
    ids = await parents(engine)

    def version(sync_conn: Any) -> int:
        return int(sync_conn.scalar(select(m.DirectoryVersion.n)))

    async with engine.connect() as conn:
        before = await conn.run_sync(version)
    await insert_rows(engine, (m.UserRole, {"user_id": ids["user"], "role": "system_client"}))
    async with engine.connect() as conn:
        assert await conn.run_sync(version) > before


async def test_role_outside_the_enum_is_refused(engine: AsyncEngine) -> None:
    ids = await parents(engine)
    await assert_refused(engine, "ck_account_role_role",
                         (m.UserRole, {"user_id": ids["user"], "role": "superuser"}))


async def test_engagement_ending_before_it_starts_is_refused(engine: AsyncEngine) -> None:
    ids = await parents(engine)
    await assert_refused(engine, "ck_engagement_period", (m.Engagement, {
        "id": uuid.uuid4(), "person_id": ids["person"], "unit_id": ids["unit"],
        "service_kind": "home_care", "starts_on": dt.date(2024, 5, 2),
        "ends_on": dt.date(2024, 5, 1), "created_at": NOW}))


async def test_engagement_service_kind_outside_the_enum_is_refused(engine: AsyncEngine) -> None:
    ids = await parents(engine)
    await assert_refused(engine, "ck_engagement_service", (m.Engagement, {
        "id": uuid.uuid4(), "person_id": ids["person"], "unit_id": ids["unit"],
        "service_kind": "gardening", "starts_on": dt.date(2024, 5, 2),
        "created_at": NOW}))


async def test_person_index_of_the_wrong_length_is_refused(engine: AsyncEngine) -> None:
    await assert_refused(engine, "ck_person_index", (m.Person, {
        "id": uuid.uuid4(), "personnummer_enc": b"sealed", "personnummer_index": "short",
        "name_enc": b"sealed", "protected_identity": False, "created_at": NOW}))


async def test_too_short_username_is_refused(engine: AsyncEngine) -> None:
    ids = await parents(engine)
    await assert_refused(engine, "ck_account_username", (m.User, {
        "id": uuid.uuid4(), "organization_id": ids["org"], "username": "ab",
        "display_name": "B", "password_hash": "x", "totp_secret": b"x", "totp_last_step": 0,
        "created_at": NOW}))


async def test_session_kind_outside_the_enum_is_refused(engine: AsyncEngine) -> None:
    ids = await parents(engine)
    await assert_refused(engine, "ck_session_kind", (m.Session, {
        "id": uuid.uuid4(), "token_hash": b"h" * 32, "user_id": ids["user"], "kind": "ftp",
        "created_at": NOW, "last_seen_at": NOW, "expires_at": NOW}))


async def test_refused_row_leaves_nothing_behind(engine: AsyncEngine) -> None:
    good_org = org_row()
    with pytest.raises(IntegrityError):
        await insert_rows(engine, good_org, org_row(kind="bank"))

    def count(sync_conn: Any) -> int:
        return int(sync_conn.scalar(select(func.count()).select_from(table(m.Organization))))

    async with engine.connect() as conn:
        assert await conn.run_sync(count) == 0


# -- migrations that move data --------------------------------------------------------------

async def _migrate(engine: AsyncEngine, revision: str, down: bool = False) -> None:
    def run(sync_conn: Any) -> None:
        cfg = alembic_config()
        cfg.attributes["connection"] = sync_conn
        (command.downgrade if down else command.upgrade)(cfg, revision)

    async with engine.begin() as conn:
        await conn.run_sync(run)


async def test_going_back_before_reach_sets_writes_every_delivery_first(
        engine: AsyncEngine) -> None:
    """0010 down: a message reached two users and only one had looked; both keep it.
    Up again: every account's inbox is complete, so every cursor is at the newest."""
    ids = await parents(engine)
    other, message_id, set_id = uuid.uuid4(), uuid.uuid4(), 7
    read_at = NOW + dt.timedelta(minutes=5)
    await insert_rows(
        engine,
        (m.User, {"id": other, "organization_id": ids["org"], "username": "bertil",
                  "display_name": "B", "password_hash": "x", "totp_secret": b"x",
                  "totp_last_step": 0, "created_at": NOW}),
        (m.ReachSet, {"id": set_id, "digest": b"d" * 32, "size": 2}),
        *((m.ReachMember, {"set_id": set_id, "user_id": user, "group_id": ids["unit"],
                           "organization_id": ids["org"]}) for user in (ids["user"], other)),
        (m.Message, {"id": message_id, "thread_id": message_id,
                     "sender_user_id": ids["user"], "sender_organization_id": ids["org"],
                     "category": "care_information", "priority": "normal",
                     "subject_enc": b"s", "content": b"c", "created_at": NOW,
                     "reach_set_id": set_id}),
        (m.Delivery, {"message_id": message_id, "user_id": ids["user"],
                      "group_id": ids["unit"], "organization_id": ids["org"],
                      "delivered_at": NOW, "read_at": read_at}),
    )
    await _migrate(engine, "0009", down=True)
    async with engine.connect() as conn:
        rows = (await conn.execute(text(
            "SELECT user_id, read_at IS NOT NULL FROM delivery ORDER BY seq"))).all()
    assert [(uuid.UUID(str(user)), read) for user, read in rows] == [
        (ids["user"], True), (other, False)]

    await _migrate(engine, "head")
    async with engine.connect() as conn:
        cursors = (await conn.execute(select(
            table(m.InboxCursor).c.user_id, table(m.InboxCursor).c.message_seq))).all()
        newest = (await conn.execute(select(func.max(table(m.Message).c.seq)))).scalar_one()
    assert {user: seq for user, seq in cursors} == {ids["user"]: newest, other: newest}


async def test_secrecy_communities_start_as_the_kinds_said(engine: AsyncEngine) -> None:
    """0019: the organizations of the kinds the table named join the community, so
    that nothing shared without consent before is refused after, nor the reverse."""
    await _migrate(engine, "0018", down=True)
    city, case, night = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    await insert_rows(engine, org_row(id=city), org_row(id=case, kind="case_management"),
                      org_row(id=night, kind="night_service"))
    await _migrate(engine, "head")
    async with engine.connect() as conn:
        members = (await conn.execute(text(
            "SELECT community_id, organization_id FROM secrecy_community_member"))).all()
    assert sorted((c, uuid.UUID(str(o))) for c, o in members) == sorted(
        [("osl_26_9c", city), ("osl_26_9c", case)])

"""Secrecy communities: which organizations the operator configured into each."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Collection, Iterable

from sqlalchemy import Connection, delete, select
from sqlmodel import col

from hub.db.models import SecrecyCommunityMember
from hub.db.prepared import insert_of


def of_organizations(conn: Connection, organization_ids: Collection[uuid.UUID],
                     lock: bool = False) -> dict[uuid.UUID, frozenset[str]]:
    """Each organization's communities (those in none are left out). With `lock`, the
    rows are share-locked until commit (PostgreSQL): a removal waits for the send that
    relies on it, or the send sees it."""
    found: dict[uuid.UUID, set[str]] = {}
    if organization_ids:
        statement = select(col(SecrecyCommunityMember.community_id),
                           col(SecrecyCommunityMember.organization_id)).where(
            col(SecrecyCommunityMember.organization_id).in_(list(organization_ids)))
        if lock:
            statement = statement.with_for_update(read=True)
        for community, organization in conn.execute(statement):
            found.setdefault(organization, set()).add(community)
    return {org: frozenset(ids) for org, ids in found.items()}


def members(conn: Connection) -> dict[str, list[uuid.UUID]]:
    """Every community's organizations, oldest member first."""
    found: dict[str, list[uuid.UUID]] = {}
    for community, organization in conn.execute(
            select(col(SecrecyCommunityMember.community_id),
                   col(SecrecyCommunityMember.organization_id))
            .order_by(col(SecrecyCommunityMember.community_id),
                      col(SecrecyCommunityMember.added_at),
                      col(SecrecyCommunityMember.organization_id))):
        found.setdefault(community, []).append(organization)
    return found


def add(conn: Connection, communities: Iterable[str], organization_id: uuid.UUID,
        at: dt.datetime) -> list[str]:
    """Join the communities; returns those it was not in yet."""
    joined = []
    for community in communities:
        statement = insert_of(conn.dialect.name)(SecrecyCommunityMember).values(
            community_id=community, organization_id=organization_id, added_at=at,
        ).on_conflict_do_nothing(index_elements=["community_id", "organization_id"]
                                 ).returning(col(SecrecyCommunityMember.community_id))
        if conn.execute(statement).scalar() is not None:
            joined.append(community)
    return joined


def remove(conn: Connection, community: str, organization_id: uuid.UUID) -> bool:
    """Leave the community; False if it was not in it."""
    result = conn.execute(delete(SecrecyCommunityMember).where(
        col(SecrecyCommunityMember.community_id) == community,
        col(SecrecyCommunityMember.organization_id) == organization_id))
    return bool(result.rowcount)

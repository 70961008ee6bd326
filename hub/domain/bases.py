"""The table of legal bases (`legal_bases.toml`), read once and checked as it is read.

The table is data so that it can be read against the routines it comes from; this
module only gives it types. What each kind of basis means is decided in
`hub.domain.policy`, the one place that evaluates it.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from enum import StrEnum
from importlib import resources
from typing import Any

from hub.domain.roles import OrgKind
from hub.domain.vocabulary import RoutineStep


class BasisKind(StrEnum):
    SAME_ORGANIZATION = "same_organization"
    ASSIGNMENT = "assignment"
    NOTICE = "notice"
    PROVIDER_CHANGE = "provider_change"
    URGENT_START = "urgent_start"
    COMMUNITY = "community"
    CONSENT = "consent"


class Side(StrEnum):
    """Which party to an assignment sends a step."""

    CASE_MANAGEMENT = "case_management"
    PROVIDER = "provider"
    EITHER = "either"


@dataclass(frozen=True)
class Basis:
    id: str
    kind: BasisKind
    sv: str
    en: str
    # assignment, notice: the steps the basis covers, and who sends each.
    steps: dict[RoutineStep, Side]
    # notice: the kind of organization told.
    to_kind: OrgKind | None = None
    # Whether a message with attachments (documents: a plan, the journal) may rest on
    # it. The routine steps' own bases carry the step's words, not the documentation.
    attachments: bool = True


@dataclass(frozen=True)
class Community:
    id: str
    sv: str
    en: str
    # The kinds of organization that join it when created: its seed. The members
    # themselves are configured (the operator keeps the sets, in the database).
    seed_kinds: frozenset[OrgKind]
    # The kinds that may be configured into it at all.
    member_kinds: frozenset[OrgKind]


@dataclass(frozen=True)
class Table:
    bases: tuple[Basis, ...]
    communities: tuple[Community, ...]

    def basis(self, basis_id: str) -> Basis:
        return next(b for b in self.bases if b.id == basis_id)

    def community(self, community_id: str) -> Community | None:
        return next((c for c in self.communities if c.id == community_id), None)

    def seeded(self, kind: OrgKind) -> frozenset[str]:
        """The communities a new organization of this kind joins."""
        return frozenset(c.id for c in self.communities if kind in c.seed_kinds)


def _basis(raw: dict[str, Any]) -> Basis:
    kind = BasisKind(raw["kind"])
    steps = {RoutineStep(step): Side(side) for step, side in raw.get("steps", {}).items()}
    if (kind in (BasisKind.ASSIGNMENT, BasisKind.NOTICE, BasisKind.PROVIDER_CHANGE,
                 BasisKind.URGENT_START)) != bool(steps):
        raise ValueError(f"basis {raw['id']}: steps belong to assignment, notice, "
                         "provider-change and urgent-start bases")
    to_kind = OrgKind(raw["to_kind"]) if "to_kind" in raw else None
    if (kind is BasisKind.NOTICE) != (to_kind is not None):
        raise ValueError(f"basis {raw['id']}: a notice, and only a notice, has to_kind")
    attachments = raw.get("attachments", True)
    if not isinstance(attachments, bool):
        raise ValueError(f"basis {raw['id']}: attachments is true or false")
    return Basis(raw["id"], kind, raw["sv"], raw["en"], steps, to_kind, attachments)


def _community(raw: dict[str, Any]) -> Community:
    seed = frozenset(OrgKind(k) for k in raw["seed_organization_kinds"])
    members = frozenset(OrgKind(k) for k in raw["member_organization_kinds"])
    if not seed <= members:
        raise ValueError(f"community {raw['id']}: the seed kinds are member kinds")
    return Community(raw["id"], raw["sv"], raw["en"], seed, members)


def parse(text: str) -> Table:
    """The table from TOML text; raises ValueError (or KeyError) on a malformed one."""
    raw = tomllib.loads(text)
    bases = tuple(_basis(b) for b in raw["basis"])
    if len({b.id for b in bases}) != len(bases):
        raise ValueError("basis ids must be unique")
    communities = tuple(
        _community(c)
        for c in raw.get("community", ()))
    return Table(bases, communities)


def load() -> Table:
    return parse(resources.files("hub.domain").joinpath("legal_bases.toml").read_text("utf-8"))


TABLE = load()

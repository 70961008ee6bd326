"""Care relationships (engagements): when one is active, who records one and who ends one.

In the city's routine the case worker distributes the assignment to the chosen
provider ("Biståndshandläggaren fördelar uppdraget ... till vald utförare"): a
provider never creates its own relationship with a person. Home health care records
its own enrolments. The engaged unit's IT contact may end its own engagement (the
provider stops), never start one.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from hub.domain.roles import OrgKind, Role
from hub.domain.vocabulary import EngagementState

# Roles of a home-health-care organization that record its own enrolments.
_ENROLMENT_ROLES = frozenset({Role.STAFF, Role.IT_CONTACT})


@dataclass(frozen=True)
class EngagementActor:
    roles: frozenset[Role]
    organization_id: uuid.UUID | None
    organization_kind: OrgKind | None
    # The admin CLI on the hub's own machine.
    cli: bool = False


def engaged_on(starts_on: dt.date, ends_on: dt.date | None, day: dt.date,
               state: str = EngagementState.ACTIVE) -> bool:
    """Does an engagement give its unit's organization a care relationship with the
    person on `day` (a Swedish calendar day)? An active one from its first day through
    its last, `ends_on` included (without `ends_on` it runs on). An assigned one (its
    assignment distributed, the first visit not yet reported) or an upcoming one (an
    incoming provider before takeover) until it is ended: the provider prepares the
    start, meets the person and records their consent. This is "engaged today"
    everywhere; the store's SQL filter (`hub.db.persons.engaged_persons`) says the same
    and must stay in step with it."""
    if state != EngagementState.ACTIVE:
        return ends_on is None
    return starts_on <= day and (ends_on is None or day <= ends_on)


def gives_care_on(starts_on: dt.date, ends_on: dt.date | None, day: dt.date,
                  state: str) -> bool:
    """The unit gives the service on `day`: an active engagement in its period."""
    return state == EngagementState.ACTIVE and engaged_on(starts_on, ends_on, day, state)


def may_record_engagement(actor: EngagementActor, unit_organization: uuid.UUID) -> bool:
    """A case worker records any unit's engagement; home health care its own units'."""
    if actor.cli or Role.CASE_WORKER in actor.roles:
        return True
    return (actor.organization_kind is OrgKind.HOME_HEALTH_CARE
            and actor.organization_id == unit_organization
            and bool(actor.roles & _ENROLMENT_ROLES))


def may_end_engagement(actor: EngagementActor, unit_organization: uuid.UUID) -> bool:
    """Whoever may record it, and the IT contact of the engaged unit's organization."""
    if may_record_engagement(actor, unit_organization):
        return True
    return Role.IT_CONTACT in actor.roles and actor.organization_id == unit_organization


def may_import_engagements(actor: EngagementActor, dry_run: bool) -> bool:
    """Imports are for case workers and home health care; a dry run, which tells which
    personnummer are registered, for case workers only."""
    if actor.cli or Role.CASE_WORKER in actor.roles:
        return True
    return not dry_run and actor.organization_kind is OrgKind.HOME_HEALTH_CARE \
        and bool(actor.roles & _ENROLMENT_ROLES)


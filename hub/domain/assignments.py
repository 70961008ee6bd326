"""The assignment (uppdrag) as a state machine: who takes each step, from which state.

The routine for choosing and assigning a home-care provider
(`../shared/seeds/002_*.txt`): the case worker distributes the assignment to the
chosen provider's unit; the provider confirms receipt, then reports the date of the
first visit and any service not started, with the reason; the case worker confirms
the start date back. Every step is a message in the assignment's thread, carrying
its `RoutineStep`.

    distributed --receipt--> received --first visit--> started --start confirmed-->
         \\_______________first visit_______________/^                 start_confirmed

A first visit reported without a receipt first counts as the receipt too. Before the
first visit the case worker may withdraw the assignment; then no step follows.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import StrEnum

from hub.domain.roles import OrgKind, Role
from hub.domain.vocabulary import AssignmentState, RoutineStep


class Step(StrEnum):
    DISTRIBUTE = "distribute"
    RECEIPT = "receipt"
    FIRST_VISIT = "first_visit"
    CONFIRM_START = "confirm_start"
    WITHDRAW = "withdraw"


# The state each step may be taken from, and the state it leads to.
TRANSITIONS: dict[Step, tuple[frozenset[AssignmentState | None], AssignmentState]] = {
    Step.DISTRIBUTE: (frozenset({None}), AssignmentState.DISTRIBUTED),
    Step.RECEIPT: (frozenset({AssignmentState.DISTRIBUTED}), AssignmentState.RECEIVED),
    Step.FIRST_VISIT: (frozenset({AssignmentState.DISTRIBUTED, AssignmentState.RECEIVED}),
                       AssignmentState.STARTED),
    Step.CONFIRM_START: (frozenset({AssignmentState.STARTED}),
                         AssignmentState.START_CONFIRMED),
}

# The message each step sends, and whose step it is.
STEP_MESSAGES: dict[Step, RoutineStep] = {
    Step.DISTRIBUTE: RoutineStep.ASSIGNMENT,
    Step.RECEIPT: RoutineStep.RECEIPT,
    Step.FIRST_VISIT: RoutineStep.FIRST_VISIT,
    Step.CONFIRM_START: RoutineStep.START_CONFIRMED,
    # The case management's word on its own assignment.
    Step.WITHDRAW: RoutineStep.ASSIGNMENT,
}
CASE_MANAGEMENT_STEPS = frozenset({Step.DISTRIBUTE, Step.CONFIRM_START, Step.WITHDRAW})

# The case worker withdraws an assignment that has not started (the person changed
# their mind, moved into a care home, died): no step follows. A started one ends by
# ending its engagements instead.
WITHDRAWABLE = frozenset({AssignmentState.DISTRIBUTED, AssignmentState.RECEIVED})
# Waiting for its first visit: one of these states, and not withdrawn (the start
# clock runs; the overdue list and the escalations watch it).
WAITING = WITHDRAWABLE


def waiting_for_first_visit(state: str, withdrawn: bool) -> bool:
    return state in WAITING and not withdrawn

# Steps only the assignment's own actions send (they change its state); the reports a
# provider makes at any time (changed needs, consent refused, a service not started,
# provider change) are ordinary messages that carry their step.
FLOW_STEPS = frozenset({RoutineStep.ASSIGNMENT, RoutineStep.RECEIPT, RoutineStep.FIRST_VISIT,
                        RoutineStep.START_CONFIRMED, RoutineStep.CHOSEN_PROVIDER})

# Organizations an assignment can go to: those that give services under a decision.
PROVIDER_KINDS = frozenset({
    OrgKind.PRIVATE_HOME_CARE, OrgKind.CITY_HOME_CARE, OrgKind.NIGHT_SERVICE,
    OrgKind.ALARM_SERVICE, OrgKind.CAMERA_SUPERVISION, OrgKind.RELIEF_ESCORT,
})


class StepRefused(Exception):
    """The step does not follow from the assignment's state."""

    def __init__(self, state: AssignmentState | None, step: Step) -> None:
        super().__init__(f"{step} does not follow {state}")
        self.state = state
        self.step = step


def next_state(state: AssignmentState | None, step: Step,
               withdrawn: bool = False) -> AssignmentState:
    """The state after `step`; raises `StepRefused` if it may not be taken now. No
    step follows a withdrawal; a withdrawal keeps the state (the last step taken)."""
    if withdrawn:
        raise StepRefused(state, step)
    if step is Step.WITHDRAW:
        if state is None or state not in WITHDRAWABLE:
            raise StepRefused(state, step)
        return state
    allowed_from, to = TRANSITIONS[step]
    if state not in allowed_from:
        raise StepRefused(state, step)
    return to


@dataclass(frozen=True)
class Parties:
    case_management: uuid.UUID  # organization
    provider: uuid.UUID  # organization


def may_take(step: Step, roles: frozenset[Role], organization_id: uuid.UUID | None,
             parties: Parties) -> bool:
    """Case workers of the distributing organization distribute and confirm the start;
    staff of the provider's organization confirm receipt and report the first visit.
    A provider never creates its own assignment (and so its own care relationship)."""
    if step in CASE_MANAGEMENT_STEPS:
        return Role.CASE_WORKER in roles and organization_id == parties.case_management
    return Role.STAFF in roles and organization_id == parties.provider


def takes_part_in_flows(roles: frozenset[Role]) -> bool:
    """Case workers and staff take part in the flows (and list their organization's);
    accounts that only administer do not."""
    return Role.CASE_WORKER in roles or Role.STAFF in roles


def party_may_see(roles: frozenset[Role], organization_id: uuid.UUID | None,
                  case_management: uuid.UUID, providers: tuple[uuid.UUID, ...]) -> bool:
    """Who sees a flow between a case-management organization and providers (an
    assignment, a provider change, a follow-up request): its case workers, and the
    providers' staff. To anyone else, accounts that only administer and system clients
    included, it does not exist."""
    if organization_id == case_management:
        return Role.CASE_WORKER in roles
    return organization_id in providers and Role.STAFF in roles


def may_distribute(roles: frozenset[Role], organization_kind: OrgKind | None) -> bool:
    """A case worker of a case-management organization distributes assignments, from
    the acute and no-choice list too, and keeps that list."""
    return Role.CASE_WORKER in roles and organization_kind is OrgKind.CASE_MANAGEMENT


# "Kommunens Trygghetslarm och nattpatrull" give urgent starts from the acute list: the
# city's alarm service, whose night patrol answers the alarms (one service). Not the
# night service (hemtjänst natt), which is a provider like any other.
URGENT_STARTERS = frozenset({OrgKind.ALARM_SERVICE})


def may_start_urgently(roles: frozenset[Role], organization_kind: OrgKind | None) -> bool:
    """Staff of the alarm and night patrol service give an urgent start from the acute
    list, on behalf of a case-management unit: that unit is the assignment's party,
    never the alarm service, which gains no care relationship."""
    return Role.STAFF in roles and organization_kind in URGENT_STARTERS

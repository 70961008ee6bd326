"""The table of legal bases (hub/domain/legal_bases.toml), read as the city's routines.

Each test is a sentence of a routine: who may tell whom about a person, and on what
basis. The last tests check that every basis of the table is reached by some send and
that a malformed table is refused when it is read.
"""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from hub.domain import bases
from hub.domain.assignments import PROVIDER_KINDS, may_distribute, may_start_urgently
from hub.domain.bases import TABLE
from hub.domain.follow_up import deviates
from hub.domain.policy import (
    AssignmentFacts,
    ChangeFacts,
    ConsentFacts,
    OrgFacts,
    RecipientFacts,
    Rule,
    SendFacts,
    evaluate_send,
)
from hub.domain.roles import OrgKind, Role
from hub.domain.vocabulary import RoutineStep


def created(kind: OrgKind, engaged: bool) -> OrgFacts:
    """An organization of `kind` as the hub creates it: in the secrecy communities that
    kind seeds (the operator may change that; see the last tests)."""
    return OrgFacts(uuid.uuid4(), kind, engaged, TABLE.seeded(kind))


AT = dt.datetime(2026, 12, 3, 10, 0, tzinfo=dt.UTC)
TODAY = dt.date(2026, 12, 3)

CASE_MANAGEMENT = created(OrgKind.CASE_MANAGEMENT, False)
PRIVATE = created(OrgKind.PRIVATE_HOME_CARE, True)
OTHER_PRIVATE = created(OrgKind.PRIVATE_HOME_CARE, True)
# Not yet engaged: an assignment was distributed, the first visit is not reported.
ASSIGNED_PRIVATE = created(OrgKind.PRIVATE_HOME_CARE, False)
CITY_HOME_CARE = created(OrgKind.CITY_HOME_CARE, True)
NIGHT = created(OrgKind.NIGHT_SERVICE, True)
ALARM = created(OrgKind.ALARM_SERVICE, True)
CAMERA = created(OrgKind.CAMERA_SUPERVISION, True)
RELIEF = created(OrgKind.RELIEF_ESCORT, True)
NURSES = created(OrgKind.HOME_HEALTH_CARE, True)
DISABILITY_CASE_MANAGEMENT = created(OrgKind.CASE_MANAGEMENT, True)

ASSIGNMENT = AssignmentFacts(CASE_MANAGEMENT.organization_id, ASSIGNED_PRIVATE.organization_id)
# The person leaves OTHER_PRIVATE for an incoming provider, not yet engaged.
INCOMING = created(OrgKind.PRIVATE_HOME_CARE, False)
CHANGE = ChangeFacts(CASE_MANAGEMENT.organization_id, OTHER_PRIVATE.organization_id,
                     INCOMING.organization_id)
CONSENT = ConsentFacts(True, frozenset(), TODAY - dt.timedelta(days=10))


def send(sender: OrgFacts, recipient: OrgFacts, step: RoutineStep | None = None,
         consent: bool = False, assignments: tuple[AssignmentFacts, ...] = (ASSIGNMENT,),
         changes: tuple[ChangeFacts, ...] = (), named: OrgFacts | None = None,
         ) -> tuple[Rule | None, str | None]:
    """The rule that refuses, or the basis the send rests on. `consent`: the person
    consented for everyone involved; `named`: for that organization."""
    group = uuid.uuid4()
    consents = (CONSENT,) if consent else ()
    if named is not None:
        consents += (ConsentFacts(False, frozenset({named.organization_id}),
                                  TODAY - dt.timedelta(days=1)),)
    decision = evaluate_send(SendFacts(
        True, sender, (RecipientFacts(group, recipient),), AT, consents, step, assignments,
        changes))
    if decision.refusals:
        return decision.refusals[0].rule, None
    return None, dict(decision.bases)[group]


# -- Rutin för val, omval och uppdrag till utförare av hemtjänst ------------------------

def test_the_case_worker_distributes_the_assignment_to_the_chosen_provider() -> None:
    # "Biståndshandläggaren fördelar uppdraget ... till vald utförare": no consent needed.
    assert send(CASE_MANAGEMENT, ASSIGNED_PRIVATE, RoutineStep.ASSIGNMENT) == (
        None, "assignment")


def test_the_provider_confirms_receipt_and_reports_the_first_visit_and_what_did_not_start(
) -> None:
    # "Utföraren bekräftar snarast ... att uppdraget mottagits"; "meddelar ... datum för
    # första insats ... om någon insats inte verkställs, och orsak".
    for step in (RoutineStep.RECEIPT, RoutineStep.FIRST_VISIT,
                 RoutineStep.SERVICE_NOT_STARTED):
        assert send(ASSIGNED_PRIVATE, CASE_MANAGEMENT, step) == (None, "assignment")


def test_the_case_worker_confirms_the_start_date_back() -> None:
    # "Biståndshandläggaren bekräftar verkställighetsdatum till utföraren".
    assert send(CASE_MANAGEMENT, ASSIGNED_PRIVATE, RoutineStep.START_CONFIRMED) == (
        None, "assignment")


def test_each_step_goes_one_way_only() -> None:
    # A provider does not distribute assignments, nor confirm its own start.
    assert send(ASSIGNED_PRIVATE, CASE_MANAGEMENT, RoutineStep.ASSIGNMENT) == (
        Rule.LEGAL_BASIS, None)
    assert send(ASSIGNED_PRIVATE, CASE_MANAGEMENT, RoutineStep.START_CONFIRMED) == (
        Rule.LEGAL_BASIS, None)
    assert send(CASE_MANAGEMENT, ASSIGNED_PRIVATE, RoutineStep.RECEIPT) == (
        Rule.LEGAL_BASIS, None)


def test_the_assignment_relationship_covers_its_steps_not_everything() -> None:
    # Care information from the provider to the case worker still needs consent.
    assert send(ASSIGNED_PRIVATE, CASE_MANAGEMENT) == (Rule.LEGAL_BASIS, None)
    assert send(ASSIGNED_PRIVATE, CASE_MANAGEMENT, consent=True) == (None, "consent")


def test_the_relationship_is_between_the_two_parties_only() -> None:
    # Another provider has no assignment relationship with this case-management unit.
    assert send(OTHER_PRIVATE, CASE_MANAGEMENT, RoutineStep.CHANGED_NEEDS) == (
        Rule.LEGAL_BASIS, None)
    # And without any assignment, the assigned provider has no relationship at all.
    assert send(ASSIGNED_PRIVATE, CASE_MANAGEMENT, RoutineStep.RECEIPT,
                assignments=()) == (Rule.CARE_RELATIONSHIP, None)


def test_the_case_worker_tells_the_home_health_nurses_which_provider_was_chosen() -> None:
    # "... skickar då meddelande om vald utförare via gemensam sändlista till
    # sjuksköterskor för hemsjukvård."
    assert send(CASE_MANAGEMENT, NURSES, RoutineStep.CHOSEN_PROVIDER) == (
        None, "home_health_care_notice")
    # Only to home health care the person is enrolled in.
    not_enrolled = created(OrgKind.HOME_HEALTH_CARE, False)
    assert send(CASE_MANAGEMENT, not_enrolled, RoutineStep.CHOSEN_PROVIDER)[0] is not None


def test_the_case_worker_tells_both_providers_of_a_change_at_once() -> None:
    # "Meddelandet till utförarna ska ske vid samma tidpunkt."
    for provider in (OTHER_PRIVATE, INCOMING):
        assert send(CASE_MANAGEMENT, provider, RoutineStep.PROVIDER_CHANGE,
                    changes=(CHANGE,)) == (None, "provider_change")


def test_the_outgoing_provider_tells_the_incoming_one_the_takeover_date() -> None:
    # "Frånträdande utförare kontaktar tillträdande för att meddela datum för
    # övertagande" - and the incoming one answers; without a change, no basis.
    assert send(OTHER_PRIVATE, INCOMING, RoutineStep.PROVIDER_CHANGE,
                changes=(CHANGE,)) == (None, "provider_change")
    assert send(INCOMING, OTHER_PRIVATE, RoutineStep.PROVIDER_CHANGE,
                changes=(CHANGE,)) == (None, "provider_change")
    assert send(OTHER_PRIVATE, PRIVATE, RoutineStep.PROVIDER_CHANGE,
                changes=(CHANGE,)) == (Rule.LEGAL_BASIS, None)


def test_the_documentation_goes_to_the_incoming_provider_only_with_consent() -> None:
    # "Utföraren frågar kund om hen önskar att utförarens dokumentationer ska delges den
    # nya utföraren."
    assert send(OTHER_PRIVATE, INCOMING, changes=(CHANGE,)) == (Rule.LEGAL_BASIS, None)
    assert send(OTHER_PRIVATE, INCOMING, changes=(CHANGE,), named=INCOMING) == (
        None, "consent")


def test_the_outgoing_provider_of_a_change_tells_home_health_care() -> None:
    # "Om kunden har pågående hemsjukvårdsinsatser meddelar frånträdande utförare
    # hemsjukvården ..."
    assert send(OTHER_PRIVATE, NURSES, RoutineStep.PROVIDER_CHANGE, assignments=(),
                changes=(CHANGE,)) == (None, "home_health_care_notice")
    # Without a change, a provider has no change to tell of.
    assert send(ASSIGNED_PRIVATE, NURSES, RoutineStep.PROVIDER_CHANGE) == (
        Rule.LEGAL_BASIS, None)


def test_documents_never_rest_on_a_routine_steps_basis() -> None:
    # The journal sent as a "changed needs" report, or the documentation as a
    # "provider change" message, still needs consent.
    def with_documents(sender: OrgFacts, recipient: OrgFacts, step: RoutineStep,
                       changes: tuple[ChangeFacts, ...] = ()) -> Rule | None:
        decision = evaluate_send(SendFacts(
            True, sender, (RecipientFacts(uuid.uuid4(), recipient),), AT, (), step,
            (ASSIGNMENT,), changes, attachments=True))
        return decision.refusals[0].rule if decision.refusals else None

    assert with_documents(ASSIGNED_PRIVATE, CASE_MANAGEMENT,
                          RoutineStep.CHANGED_NEEDS) is Rule.LEGAL_BASIS
    assert with_documents(OTHER_PRIVATE, INCOMING, RoutineStep.PROVIDER_CHANGE,
                          (CHANGE,)) is Rule.LEGAL_BASIS
    assert with_documents(CITY_HOME_CARE, DISABILITY_CASE_MANAGEMENT,
                          RoutineStep.CHANGED_NEEDS) is None  # the secrecy community


# -- Rutin för underlag vid uppföljning ----------------------------------------------------

def test_the_provider_tells_the_social_secretary_that_the_person_refused_consent() -> None:
    # "Om den enskilde inte samtycker ska socialsekreteraren meddelas detta": that
    # notice cannot itself need the consent that was refused.
    assert send(ASSIGNED_PRIVATE, CASE_MANAGEMENT, RoutineStep.CONSENT_REFUSED) == (
        None, "assignment")


def test_the_social_secretary_asks_the_provider_for_the_follow_up_material() -> None:
    # "... begär skriftligt via kontaktgrupperna ..." on the assignment relationship.
    assert send(CASE_MANAGEMENT, ASSIGNED_PRIVATE, RoutineStep.FOLLOW_UP_REQUEST) == (
        None, "assignment")
    # The material itself: a private provider's needs the person's consent.
    assert send(ASSIGNED_PRIVATE, CASE_MANAGEMENT, RoutineStep.FOLLOW_UP_ANSWER) == (
        Rule.LEGAL_BASIS, None)
    assert send(ASSIGNED_PRIVATE, CASE_MANAGEMENT, RoutineStep.FOLLOW_UP_ANSWER,
                consent=True) == (None, "consent")
    assert send(CITY_HOME_CARE, DISABILITY_CASE_MANAGEMENT,
                RoutineStep.FOLLOW_UP_ANSWER) == (None, "secrecy_community")


def test_the_case_management_units_and_the_citys_home_care_share_without_consent() -> None:
    # "... möjlig utan den enskildes samtycke inom ÄVO, FFS och Göteborgs Stads
    # hemtjänst (26 kap. 9 c § OSL)."
    assert send(DISABILITY_CASE_MANAGEMENT, CITY_HOME_CARE) == (None, "secrecy_community")
    assert send(CITY_HOME_CARE, DISABILITY_CASE_MANAGEMENT) == (None, "secrecy_community")


def test_a_private_providers_material_needs_the_persons_consent() -> None:
    # "Socialsekreterare ... kan få åtkomst till privata utförare av hemtjänsts underlag
    # om den enskilde gett samtycke."
    assert send(PRIVATE, DISABILITY_CASE_MANAGEMENT) == (Rule.LEGAL_BASIS, None)
    assert send(PRIVATE, DISABILITY_CASE_MANAGEMENT, consent=True) == (None, "consent")


def test_the_secrecy_community_is_seeded_with_the_three_the_routine_names() -> None:
    # ÄVO and FFS are the hub's case-management organizations; "Göteborgs Stads
    # hemtjänst" is the city's home care. Nobody else joins by being created.
    assert {k for k in OrgKind if TABLE.seeded(k)} == {OrgKind.CASE_MANAGEMENT,
                                                        OrgKind.CITY_HOME_CARE}


def test_the_secrecy_community_is_the_configured_set_not_the_kind() -> None:
    # The operator keeps the sets: an organization taken out shares on consent only;
    # one put in (say the city's night service, if the city so decides) shares freely.
    taken_out = OrgFacts(CITY_HOME_CARE.organization_id, OrgKind.CITY_HOME_CARE, True)
    assert send(taken_out, DISABILITY_CASE_MANAGEMENT) == (Rule.LEGAL_BASIS, None)
    put_in = OrgFacts(NIGHT.organization_id, OrgKind.NIGHT_SERVICE, True,
                      frozenset({"osl_26_9c"}))
    assert send(put_in, DISABILITY_CASE_MANAGEMENT) == (None, "secrecy_community")


def test_home_health_care_is_not_in_the_secrecy_community() -> None:
    # Home health care works under the health-care act.
    assert send(CITY_HOME_CARE, NURSES) == (Rule.LEGAL_BASIS, None)
    assert send(NURSES, DISABILITY_CASE_MANAGEMENT) == (Rule.LEGAL_BASIS, None)


def test_the_alarm_and_night_patrol_service_gives_urgent_starts_for_case_management(
        ) -> None:
    # "Vid behov av snabbare igångsättning än 24 timmar lämnar biståndshandläggare eller
    # kommunens Trygghetslarm och nattpatrull uppdrag till utförare, enligt akut- och
    # icke-valslistan." They act for a case-management unit: it is the assignment's
    # party, and is told with the provider; home health care hears it from them.
    starter = ALARM
    urgent = (AssignmentFacts(CASE_MANAGEMENT.organization_id,
                              ASSIGNED_PRIVATE.organization_id, starter.organization_id),)
    step = RoutineStep.ASSIGNMENT
    assert send(starter, ASSIGNED_PRIVATE, step, assignments=urgent) == (None, "urgent_start")
    assert send(starter, CASE_MANAGEMENT, step, assignments=urgent) == (None, "urgent_start")
    assert send(starter, NURSES, RoutineStep.CHOSEN_PROVIDER, assignments=urgent) \
        == (None, "home_health_care_notice")
    # The assignment only: the urgent start gives them no other step, nor any basis
    # for another assignment's provider.
    for other in (RoutineStep.CHANGED_NEEDS, RoutineStep.CHOSEN_PROVIDER,
                  RoutineStep.START_CONFIRMED, None):
        assert send(starter, ASSIGNED_PRIVATE, other, assignments=urgent) \
            == (Rule.LEGAL_BASIS, None)
    assert send(starter, NURSES, RoutineStep.PROVIDER_CHANGE, assignments=urgent) \
        == (Rule.LEGAL_BASIS, None)
    assert send(starter, ASSIGNED_PRIVATE, step) == (Rule.LEGAL_BASIS, None)
    # Another organization of the same kind has no part in it.
    stranger = OrgFacts(uuid.uuid4(), starter.kind, True)
    assert send(stranger, ASSIGNED_PRIVATE, step, assignments=urgent) \
        == (Rule.LEGAL_BASIS, None)
    # They are engaged with the person themselves, or they have nothing to say.
    unengaged = OrgFacts(starter.organization_id, starter.kind, False)
    assert send(unengaged, ASSIGNED_PRIVATE, step, assignments=urgent) \
        == (Rule.CARE_RELATIONSHIP, None)


def test_an_urgent_start_gives_its_giver_no_care_relationship() -> None:
    urgent = (AssignmentFacts(CASE_MANAGEMENT.organization_id,
                              ASSIGNED_PRIVATE.organization_id, ALARM.organization_id),)
    unengaged = OrgFacts(ALARM.organization_id, ALARM.kind, False)
    # The provider, asked to answer, has no care relationship to tell the alarm service.
    assert send(ASSIGNED_PRIVATE, unengaged, RoutineStep.RECEIPT, assignments=urgent) \
        == (Rule.CARE_RELATIONSHIP, None)
    for kind in OrgKind:
        for roles in ({Role.STAFF}, {Role.IT_CONTACT}, {Role.CASE_WORKER}):
            # "Kommunens Trygghetslarm och nattpatrull": one service. The night
            # service (hemtjänst natt) is a provider like any other.
            assert may_start_urgently(frozenset(roles), kind) == (
                Role.STAFF in roles and kind is OrgKind.ALARM_SERVICE)


# -- Göteborgs Stads rutin för informationsöverföring mellan privata utförare och staden --

@pytest.mark.parametrize(("sender", "recipient"), [
    (PRIVATE, NIGHT),  # day and evening to the night service
    (NIGHT, PRIVATE),  # what happened at night
    (RELIEF, PRIVATE), (PRIVATE, RELIEF),  # relief and escort, both ways
    (ALARM, PRIVATE),  # what the alarm response found
    (CAMERA, PRIVATE), (PRIVATE, CAMERA),  # Trygghetsjouren, both ways
])
def test_the_providers_tell_each_other_with_the_persons_consent(
        sender: OrgFacts, recipient: OrgFacts) -> None:
    # "Informationsöverföring ska ske med beaktande av regler om sekretess och
    # tystnadsplikt och den enskildes samtycke."
    assert send(sender, recipient) == (Rule.LEGAL_BASIS, None)
    assert send(sender, recipient, consent=True) == (None, "consent")


def test_the_citys_other_services_are_not_the_citys_home_care() -> None:
    # The routine names the night service, the alarm service, camera supervision and
    # relief and escort apart from "Göteborgs Stads hemtjänst": one authority is not
    # one secrecy community.
    for other in (NIGHT, ALARM, CAMERA, RELIEF):
        assert send(CITY_HOME_CARE, other) == (Rule.LEGAL_BASIS, None)


def test_within_one_organization_no_other_basis_is_needed() -> None:
    assert send(NIGHT, NIGHT) == (None, "same_organization")


# -- the table itself ------------------------------------------------------------------------

def test_every_basis_of_the_table_is_reached() -> None:
    reached = {
        send(NIGHT, NIGHT)[1],
        send(CASE_MANAGEMENT, ASSIGNED_PRIVATE, RoutineStep.ASSIGNMENT)[1],
        send(ALARM, ASSIGNED_PRIVATE, RoutineStep.ASSIGNMENT, assignments=(AssignmentFacts(
            CASE_MANAGEMENT.organization_id, ASSIGNED_PRIVATE.organization_id,
            ALARM.organization_id),))[1],
        send(OTHER_PRIVATE, INCOMING, RoutineStep.PROVIDER_CHANGE, changes=(CHANGE,))[1],
        send(CASE_MANAGEMENT, NURSES, RoutineStep.CHOSEN_PROVIDER)[1],
        send(CITY_HOME_CARE, DISABILITY_CASE_MANAGEMENT)[1],
        send(PRIVATE, NIGHT, consent=True)[1],
    }
    assert reached == {b.id for b in TABLE.bases}


def test_a_provider_never_creates_its_own_care_relationship() -> None:
    for kind in OrgKind:
        for roles in ({Role.STAFF}, {Role.IT_CONTACT}, {Role.CASE_WORKER},
                      {Role.STAFF, Role.CASE_WORKER, Role.IT_CONTACT}):
            allowed = may_distribute(frozenset(roles), kind)
            assert allowed == (kind is OrgKind.CASE_MANAGEMENT and Role.CASE_WORKER in roles)
            if kind in PROVIDER_KINDS:
                assert not allowed


def test_a_malformed_table_is_refused_when_read() -> None:
    with pytest.raises(ValueError, match="steps"):
        bases.parse('[[basis]]\nid = "x"\nkind = "consent"\nsv = ""\nen = ""\n'
                    '[basis.steps]\nreceipt = "provider"\n')
    with pytest.raises(ValueError):
        bases.parse('[[basis]]\nid = "x"\nkind = "gossip"\nsv = ""\nen = ""\n')
    with pytest.raises(ValueError):
        bases.parse('[[basis]]\nid = "x"\nkind = "assignment"\nsv = ""\nen = ""\n'
                    '[basis.steps]\nreceipt = "everyone"\n')


def test_about_five_percent_between_granted_and_performed_time_is_normal() -> None:
    assert not deviates(1000, 1050) and not deviates(1000, 950)
    assert deviates(1000, 1051) and deviates(1000, 949)
    assert not deviates(None, 10) and not deviates(1000, None)

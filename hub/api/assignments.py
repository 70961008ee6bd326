"""API handlers for assignments (uppdrag): distribute, the provider's receipt and first
visit report, the case worker's start confirmation, and reading them; and for the
escalations of their deadlines (and of acknowledgement deadlines)."""

from __future__ import annotations

from aiohttp import web

from hub.api import schemas as s
from hub.api.messaging import MESSAGE_BODY_LIMIT, decode_attachment
from hub.api.parsing import parse_json, path_uuid, query_bool, query_int
from hub.api.render import json_of
from hub.errors import ValidationFailed
from hub.http.context import actor_of, hub_of
from hub.services.acute_lists import NewAcuteAssignment
from hub.services.assignments import AssignmentView, NewAssignment, NotStarted
from hub.services.follow_ups import FollowUpAnswer, NewFollowUp
from hub.services.provider_changes import NewProviderChange


def _out(view: AssignmentView, status: int = 200) -> web.Response:
    return json_of(s.AssignmentOut.model_validate(view), status=status)


async def distribute(request: web.Request) -> web.Response:
    actor = await actor_of(request)
    body = await parse_json(request, s.AssignmentCreate)
    view = await hub_of(request).assignments.distribute(actor, NewAssignment(
        provider_unit_id=body.provider_unit_id, services=tuple(k.value for k in body.services),
        case_number=body.case_number, person_id=body.person_id,
        personnummer=body.personnummer, requested_start=body.requested_start,
        contact_phone=body.contact_phone, note=body.note))
    response = _out(view, status=201)
    response.headers["Location"] = f"/api/v1/assignments/{view.id}"
    return response


async def list_assignments(request: web.Request) -> web.Response:
    actor = await actor_of(request)
    views = await hub_of(request).assignments.list(
        actor, state=request.query.get("state") or None,
        overdue=query_bool(request, "overdue"), limit=_limit(request))
    return json_of([s.AssignmentOut.model_validate(v) for v in views])


async def get_assignment(request: web.Request) -> web.Response:
    actor = await actor_of(request)
    return _out(await hub_of(request).assignments.get(
        actor, path_uuid(request, "assignment_id")))


async def confirm_receipt(request: web.Request) -> web.Response:
    actor = await actor_of(request)
    return _out(await hub_of(request).assignments.confirm_receipt(
        actor, path_uuid(request, "assignment_id")))


async def report_first_visit(request: web.Request) -> web.Response:
    actor = await actor_of(request)
    body = await parse_json(request, s.FirstVisitReport)
    return _out(await hub_of(request).assignments.report_first_visit(
        actor, path_uuid(request, "assignment_id"), body.first_visit_on,
        tuple(NotStarted(n.service_kind.value, n.reason) for n in body.not_started)))


async def confirm_start(request: web.Request) -> web.Response:
    actor = await actor_of(request)
    body = await parse_json(request, s.StartConfirmation)
    return _out(await hub_of(request).assignments.confirm_start(
        actor, path_uuid(request, "assignment_id"), body.start_on))


async def withdraw(request: web.Request) -> web.Response:
    actor = await actor_of(request)
    body = await parse_json(request, s.AssignmentWithdrawal)
    return _out(await hub_of(request).assignments.withdraw(
        actor, path_uuid(request, "assignment_id"), body.reason))


async def open_escalations(request: web.Request) -> web.Response:
    actor = await actor_of(request)
    views = await hub_of(request).escalations.open_for(actor)
    return json_of([s.EscalationOut.model_validate(v) for v in views])


async def set_escalation_lead(request: web.Request) -> web.Response:
    actor = await actor_of(request)
    body = await parse_json(request, s.EscalationLeadIn)
    org_id = path_uuid(request, "org_id")
    group = await hub_of(request).escalations.set_lead(actor, org_id, body.group_id)
    return json_of(s.EscalationLeadOut(organization_id=org_id, group_id=group))


async def announce_provider_change(request: web.Request) -> web.Response:
    actor = await actor_of(request)
    body = await parse_json(request, s.ProviderChangeCreate)
    view = await hub_of(request).provider_changes.announce(actor, NewProviderChange(
        outgoing_unit_id=body.outgoing_unit_id, incoming_unit_id=body.incoming_unit_id,
        services=tuple(k.value for k in body.services), case_number=body.case_number,
        person_id=body.person_id, personnummer=body.personnummer,
        contact_phone=body.contact_phone, note=body.note))
    response = json_of(s.ProviderChangeOut.model_validate(view), status=201)
    response.headers["Location"] = f"/api/v1/provider-changes/{view.id}"
    return response


def _limit(request: web.Request) -> int:
    limit = query_int(request, "limit", 50)
    if limit is None or limit < 1:
        raise ValidationFailed(errors={"limit": "at least 1"})
    return min(limit, 100)


async def list_provider_changes(request: web.Request) -> web.Response:
    actor = await actor_of(request)
    views = await hub_of(request).provider_changes.list(actor, limit=_limit(request))
    return json_of([s.ProviderChangeOut.model_validate(v) for v in views])


async def list_follow_ups(request: web.Request) -> web.Response:
    actor = await actor_of(request)
    views = await hub_of(request).follow_ups.list(actor, limit=_limit(request))
    return json_of([s.FollowUpOut.model_validate(v) for v in views])


async def get_provider_change(request: web.Request) -> web.Response:
    actor = await actor_of(request)
    view = await hub_of(request).provider_changes.get(actor, path_uuid(request, "change_id"))
    return json_of(s.ProviderChangeOut.model_validate(view))


async def record_takeover(request: web.Request) -> web.Response:
    actor = await actor_of(request)
    body = await parse_json(request, s.TakeoverReport)
    view = await hub_of(request).provider_changes.record_takeover(
        actor, path_uuid(request, "change_id"), body.takeover_on)
    return json_of(s.ProviderChangeOut.model_validate(view))


async def request_follow_up(request: web.Request) -> web.Response:
    actor = await actor_of(request)
    body = await parse_json(request, s.FollowUpCreate)
    view = await hub_of(request).follow_ups.request(actor, NewFollowUp(
        person_id=body.person_id, provider_unit_id=body.provider_unit_id,
        due_on=body.due_on, period_from=body.period_from, period_to=body.period_to,
        granted_minutes=body.granted_minutes, note=body.note))
    response = json_of(s.FollowUpOut.model_validate(view), status=201)
    response.headers["Location"] = f"/api/v1/follow-ups/{view.id}"
    return response


async def get_follow_up(request: web.Request) -> web.Response:
    actor = await actor_of(request)
    view = await hub_of(request).follow_ups.get(actor, path_uuid(request, "follow_up_id"))
    return json_of(s.FollowUpOut.model_validate(view))


async def answer_follow_up(request: web.Request) -> web.Response:
    actor = await actor_of(request)
    body = await parse_json(request, s.FollowUpAnswerIn, max_bytes=MESSAGE_BODY_LIMIT)
    view = await hub_of(request).follow_ups.answer(
        actor, path_uuid(request, "follow_up_id"), FollowUpAnswer(
            performed_minutes=body.performed_minutes, addition=body.addition,
            deviation_reason=body.deviation_reason,
            attachments=tuple(decode_attachment(i, a)
                              for i, a in enumerate(body.attachments))))
    return json_of(s.FollowUpOut.model_validate(view))


async def follow_up_consent_refused(request: web.Request) -> web.Response:
    actor = await actor_of(request)
    view = await hub_of(request).follow_ups.consent_refused(
        actor, path_uuid(request, "follow_up_id"))
    return json_of(s.FollowUpOut.model_validate(view))


async def acute_lists(request: web.Request) -> web.Response:
    actor = await actor_of(request)
    views = await hub_of(request).acute_lists.lists(actor)
    return json_of([s.AcuteListOut.model_validate(v) for v in views])


async def set_acute_list(request: web.Request) -> web.Response:
    actor = await actor_of(request)
    body = await parse_json(request, s.AcuteListIn)
    view = await hub_of(request).acute_lists.set_list(
        actor, request.match_info["area"], tuple(body.unit_ids))
    return json_of(s.AcuteListOut.model_validate(view))


async def acute_assignment(request: web.Request) -> web.Response:
    actor = await actor_of(request)
    body = await parse_json(request, s.AcuteAssignmentCreate)
    done = await hub_of(request).acute_lists.distribute(
        actor, request.match_info["area"], NewAcuteAssignment(
            services=tuple(k.value for k in body.services), case_number=body.case_number,
            person_id=body.person_id, personnummer=body.personnummer,
            contact_phone=body.contact_phone, note=body.note))
    response = json_of(s.AcuteAssignmentOut(
        assignment=s.AssignmentOut.model_validate(done.assignment),
        existing_provider=done.existing_provider), status=201)
    if done.assignment.urgent_by_organization_id is None:
        # An urgent start is the case management's assignment, not the alarm service's.
        response.headers["Location"] = f"/api/v1/assignments/{done.assignment.id}"
    return response

"""Every API route, once: registration and the OpenAPI document come from this table."""

from __future__ import annotations

from aiohttp import web

from hub.api import assignments as a
from hub.api import compliance as c
from hub.api import events
from hub.api import handlers as h
from hub.api import hooks as k
from hub.api import messaging as m
from hub.api import persons as p
from hub.api import schemas as s
from hub.api.openapi import Operation, add_operations, openapi_document
from hub.api.render import json_of

V1 = "/api/v1"

OPERATIONS = [
    Operation("GET", "/healthz", h.healthz, "Liveness", response=s.Health, auth=False,
              tag="ops"),
    Operation("GET", "/readyz", h.readyz, "Readiness: database reachable and migrated",
              response=s.Health, auth=False, tag="ops"),
    Operation("POST", f"{V1}/auth/login", h.login, "Sign in with password and TOTP code",
              body=s.LoginRequest, response=s.LoginResponse, status=201, auth=False,
              tag="auth"),
    Operation("POST", f"{V1}/auth/logout", h.logout, "End this session", status=204,
              tag="auth"),
    Operation("GET", f"{V1}/me", h.me, "The signed-in user", response=s.MeResponse,
              tag="auth"),
    Operation("GET", f"{V1}/secrecy-communities", h.secrecy_communities,
              "The secrecy communities and the organizations in each (operator, "
              "compliance officers)", response=s.SecrecyCommunityOut, list_response=True,
              tag="admin"),
    Operation("PUT", f"{V1}/secrecy-communities/{{community_id}}/organizations/{{org_id}}",
              h.set_community_member, "Put an organization into a secrecy community "
              "(operator); audited", response=s.SecrecyCommunityOut, tag="admin"),
    Operation("DELETE",
              f"{V1}/secrecy-communities/{{community_id}}/organizations/{{org_id}}",
              h.set_community_member, "Take an organization out of a secrecy community "
              "(operator); audited", response=s.SecrecyCommunityOut, tag="admin"),
    Operation("GET", f"{V1}/organizations", h.list_organizations, "All organizations",
              response=s.OrganizationOut, list_response=True, tag="admin"),
    Operation("POST", f"{V1}/organizations", h.create_organization,
              "Create an organization (operator)", body=s.OrganizationCreate,
              response=s.OrganizationOut, status=201, tag="admin"),
    Operation("GET", f"{V1}/organizations/{{org_id}}/units", h.list_units,
              "Units of an organization", response=s.UnitOut, list_response=True,
              tag="admin"),
    Operation("POST", f"{V1}/organizations/{{org_id}}/units", h.create_unit,
              "Create a unit (IT contact)", body=s.UnitCreate, response=s.UnitOut,
              status=201, tag="admin"),
    Operation("GET", f"{V1}/organizations/{{org_id}}/users", h.list_users,
              "Accounts of an organization (IT contact)", response=s.UserOut,
              list_response=True, tag="admin"),
    Operation("POST", f"{V1}/organizations/{{org_id}}/users", h.create_user,
              "Create an account (IT contact; the operator creates IT contacts only)",
              body=s.UserCreate, response=s.UserCreated, status=201, tag="admin"),
    Operation("GET", f"{V1}/users/{{user_id}}", h.get_user, "One account",
              response=s.UserOut, tag="admin"),
    Operation("PUT", f"{V1}/users/{{user_id}}/roles", h.set_roles,
              "Replace roles (the organization's IT contact; never one's own); ends the "
              "user's sessions; audited for review", body=s.RolesUpdate,
              response=s.UserOut, tag="admin"),
    Operation("PUT", f"{V1}/users/{{user_id}}/protected-identity", h.set_protected_identity,
              "Mark a staff account as having protected personal data: other "
              "organizations see its unit and role, not its name (IT contact)",
              body=s.ProtectedIdentityUpdate, response=s.UserOut, tag="admin"),
    Operation("POST", f"{V1}/users/{{user_id}}/disable", h.disable_user,
              "Disable an account; ends its sessions", response=s.UserOut, tag="admin"),
    Operation("POST", f"{V1}/users/{{user_id}}/enable", h.enable_user,
              "Enable a disabled account", response=s.UserOut, tag="admin"),
    Operation("POST", f"{V1}/users/{{user_id}}/reset-sign-in", h.reset_sign_in,
              "Give an account a new password and TOTP secret (shown once); its "
              "sessions end", body=s.SignInReset, response=s.UserCreated, tag="admin"),
    Operation("GET", f"{V1}/api-tokens", h.list_api_tokens,
              "System-client tokens of my organization", response=s.ApiTokenOut,
              list_response=True, tag="admin"),
    Operation("POST", f"{V1}/api-tokens", h.create_api_token,
              "Issue a token for a system client (IT contact); bound to a unit, with "
              "scopes and an expiry, it reads and acts on the unit's inbox without a "
              "person's account", body=s.ApiTokenCreate,
              response=s.ApiTokenCreated, status=201, tag="admin"),
    Operation("POST", f"{V1}/api-tokens/{{token_id}}/rotate", h.rotate_api_token,
              "A new token in place of one (shown once); the previous one works for the "
              "overlap (IT contact)", response=s.ApiTokenCreated, tag="admin"),
    Operation("DELETE", f"{V1}/api-tokens/{{token_id}}", h.revoke_api_token,
              "Revoke a system-client token", status=204, tag="admin"),
    # journal hooks
    Operation("GET", f"{V1}/hook-endpoints", k.list_endpoints,
              "My organization's journal hook endpoints (IT contact)",
              response=s.HookEndpointOut, list_response=True, tag="hooks"),
    Operation("POST", f"{V1}/hook-endpoints", k.create_endpoint,
              "Register a journal hook endpoint (IT contact); its signing secret is "
              "shown once", body=s.HookEndpointCreate, response=s.HookEndpointSecret,
              status=201, tag="hooks"),
    Operation("GET", f"{V1}/hook-endpoints/{{endpoint_id}}", k.get_endpoint,
              "One journal hook endpoint (IT contact)", response=s.HookEndpointOut,
              tag="hooks"),
    Operation("PATCH", f"{V1}/hook-endpoints/{{endpoint_id}}", k.update_endpoint,
              "Rename, move, change events, enable or disable an endpoint (IT contact)",
              body=s.HookEndpointUpdate, response=s.HookEndpointOut, tag="hooks"),
    Operation("POST", f"{V1}/hook-endpoints/{{endpoint_id}}/secret", k.rotate_secret,
              "Rotate the signing secret: the new one is shown once, the previous one "
              "signs beside it for the overlap (IT contact)",
              response=s.HookEndpointSecret, tag="hooks"),
    Operation("GET", f"{V1}/hook-endpoints/{{endpoint_id}}/deliveries", k.list_deliveries,
              "An endpoint's deliveries, newest first, with the last error "
              "(?state=pending|delivered|dead, ?limit; IT contact)",
              response=s.HookDeliveryOut, list_response=True, tag="hooks"),
    Operation("POST", f"{V1}/hook-deliveries/{{delivery_id}}/retry", k.retry_delivery,
              "Queue a dead-lettered delivery again (IT contact)",
              response=s.HookDeliveryOut, tag="hooks"),
    Operation("POST", f"{V1}/messages/{{message_id}}/journal", k.record_message,
              "Record a message in my organization's journal (journalför); delivered "
              "through its hooks", response=s.JournalEntryOut, list_response=True,
              status=202, tag="hooks"),
    Operation("GET", f"{V1}/messages/{{message_id}}/journal", k.message_journal,
              "Where a message stands in the journals it was sent to (journalförd)",
              response=s.JournalEntryOut, list_response=True, tag="hooks"),
    # persons, engagements (the service overview) and consent
    Operation("POST", f"{V1}/persons", p.register_person,
              "Register a person (case worker)", body=s.PersonCreate,
              response=s.PersonCreated, status=201, tag="persons"),
    Operation("POST", f"{V1}/persons/lookup", p.lookup_person,
              "Find a person by personnummer (in the body, never the URL): case workers "
              "and engaged organizations; audited", body=s.PersonLookup,
              response=s.PersonOut, tag="persons"),
    Operation("GET", f"{V1}/persons/{{person_id}}", p.get_person,
              "Open a person's identity (case worker or engaged organization); audited",
              response=s.PersonOut, tag="persons"),
    Operation("GET", f"{V1}/persons/{{person_id}}/engagements", p.person_engagements,
              "The person's service overview, current engagements first; audited",
              response=s.EngagementViewOut, list_response=True, tag="persons"),
    Operation("POST", f"{V1}/engagements", p.add_engagement,
              "Record an engagement (case worker, or IT contact of the unit)",
              body=s.EngagementCreate, response=s.EngagementOut, status=201,
              tag="persons"),
    Operation("POST", f"{V1}/engagements/import", p.import_engagements,
              "Import engagements from CSV (text/csv: personnummer, unit, service_kind, "
              "starts_on, ends_on): all rows or none, with a per-row report; dry_run=true "
              "checks only", body_type="text/csv", response=s.ImportReportOut, status=201,
              tag="persons"),
    Operation("POST", f"{V1}/engagements/{{engagement_id}}/end", p.end_engagement,
              "End an engagement (case worker, or IT contact of the unit)",
              body=s.EngagementEnd, response=s.EngagementViewOut, tag="persons"),
    Operation("POST", f"{V1}/persons/{{person_id}}/consents", p.record_consent,
              "Record the person's consent (case worker, or staff of an engaged "
              "organization)", body=s.ConsentCreate, response=s.ConsentOut, status=201,
              tag="persons"),
    Operation("GET", f"{V1}/persons/{{person_id}}/consents", p.consent_history,
              "Every consent of the person, withdrawn ones included; audited",
              response=s.ConsentOut, list_response=True, tag="persons"),
    Operation("POST", f"{V1}/consents/{{consent_id}}/withdraw", p.withdraw_consent,
              "Record that the person withdrew a consent (never deleted)",
              response=s.ConsentOut, tag="persons"),
    # assignments (uppdrag)
    Operation("POST", f"{V1}/assignments", a.distribute,
              "Distribute an assignment to the chosen provider's unit (case worker): "
              "creates its engagements as assigned, tells home health care if the person "
              "is enrolled; audited", body=s.AssignmentCreate, response=s.AssignmentOut,
              status=201, tag="assignments"),
    Operation("GET", f"{V1}/assignments", a.list_assignments,
              "Assignments my organization distributed or received, newest first; "
              "filters state, overdue=true, limit", response=s.AssignmentOut,
              list_response=True, tag="assignments"),
    Operation("GET", f"{V1}/assignments/{{assignment_id}}", a.get_assignment,
              "One assignment (its case workers, the provider's staff); audited",
              response=s.AssignmentOut, tag="assignments"),
    Operation("POST", f"{V1}/assignments/{{assignment_id}}/receipt", a.confirm_receipt,
              "Confirm receipt (the provider's staff)", response=s.AssignmentOut,
              tag="assignments"),
    Operation("POST", f"{V1}/assignments/{{assignment_id}}/first-visit",
              a.report_first_visit, "Report the first visit and any service not started, "
              "with the reason (the provider's staff); the engagements become active",
              body=s.FirstVisitReport, response=s.AssignmentOut, tag="assignments"),
    Operation("POST", f"{V1}/assignments/{{assignment_id}}/start-confirmation",
              a.confirm_start, "Confirm the start date back to the provider (case worker)",
              body=s.StartConfirmation, response=s.AssignmentOut, tag="assignments"),
    Operation("POST", f"{V1}/assignments/{{assignment_id}}/withdrawal", a.withdraw,
              "Withdraw an assignment not yet started, saying why (case worker): the "
              "provider is told, its engagements end; a provider change's incoming "
              "assignment cancels the change", body=s.AssignmentWithdrawal,
              response=s.AssignmentOut, tag="assignments"),
    Operation("GET", f"{V1}/acute-lists", a.acute_lists,
              "The acute and no-choice lists per area (case workers, the alarm and night "
              "patrol service)", response=s.AcuteListOut, list_response=True,
              tag="assignments"),
    Operation("PUT", f"{V1}/acute-lists/{{area}}", a.set_acute_list,
              "Replace an area's list (case worker)", body=s.AcuteListIn,
              response=s.AcuteListOut, tag="assignments"),
    Operation("POST", f"{V1}/acute-lists/{{area}}/assignments", a.acute_assignment,
              "An urgent or no-choice assignment: to the person's own home-care provider, "
              "else to the unit in turn (case worker, the alarm and night patrol service)",
              body=s.AcuteAssignmentCreate, response=s.AcuteAssignmentOut, status=201,
              tag="assignments"),
    Operation("POST", f"{V1}/provider-changes", a.announce_provider_change,
              "Announce a change of provider (case worker): the incoming provider's unit "
              "gets an assignment and the outgoing one a notice, at the same moment",
              body=s.ProviderChangeCreate, response=s.ProviderChangeOut, status=201,
              tag="assignments"),
    Operation("GET", f"{V1}/provider-changes", a.list_provider_changes,
              "Provider changes my organization announced, gives up or takes over, newest "
              "first; limit", response=s.ProviderChangeOut, list_response=True,
              tag="assignments"),
    Operation("GET", f"{V1}/provider-changes/{{change_id}}", a.get_provider_change,
              "One provider change (its case workers, the two providers' staff); audited",
              response=s.ProviderChangeOut, tag="assignments"),
    Operation("POST", f"{V1}/provider-changes/{{change_id}}/takeover", a.record_takeover,
              "Report the takeover day (the incoming provider's staff)",
              body=s.TakeoverReport, response=s.ProviderChangeOut, tag="assignments"),
    Operation("POST", f"{V1}/follow-ups", a.request_follow_up,
              "Ask a provider for follow-up material by a due day (case worker)",
              body=s.FollowUpCreate, response=s.FollowUpOut, status=201, tag="assignments"),
    Operation("GET", f"{V1}/follow-ups", a.list_follow_ups,
              "Follow-up requests my organization asked or was asked, newest first; limit",
              response=s.FollowUpOut, list_response=True, tag="assignments"),
    Operation("GET", f"{V1}/follow-ups/{{follow_up_id}}", a.get_follow_up,
              "One follow-up request (its case workers, the provider's staff); audited",
              response=s.FollowUpOut, tag="assignments"),
    Operation("POST", f"{V1}/follow-ups/{{follow_up_id}}/answer", a.answer_follow_up,
              "The provider's material (the person's consent, or the secrecy community, "
              "is its legal basis)", body=s.FollowUpAnswerIn, response=s.FollowUpOut,
              tag="assignments"),
    Operation("POST", f"{V1}/follow-ups/{{follow_up_id}}/consent-refused",
              a.follow_up_consent_refused,
              "The person refused consent: the social secretary is told (the provider)",
              response=s.FollowUpOut, tag="assignments"),
    Operation("GET", f"{V1}/escalations", a.open_escalations,
              "Open escalations told to groups that reach me: acknowledgement deadlines "
              "and assignment starts that passed", response=s.EscalationOut,
              list_response=True, tag="assignments"),
    Operation("PUT", f"{V1}/organizations/{{org_id}}/escalation-lead", a.set_escalation_lead,
              "Set the group told when a deadline stays unmet after the units' own "
              "reminder (the organization's IT contact)", body=s.EscalationLeadIn,
              response=s.EscalationLeadOut, tag="assignments"),
    # contact groups and the directory
    Operation("GET", f"{V1}/groups", m.directory,
              "Directory of contact groups; filters organization_id, organization_kind, "
              "unit_id, name", response=s.GroupOut, list_response=True, tag="groups"),
    Operation("POST", f"{V1}/groups", m.create_group,
              "Create a contact group of my organization (IT contact)", body=s.GroupCreate,
              response=s.GroupOut, status=201, tag="groups"),
    Operation("GET", f"{V1}/groups/{{group_id}}", m.get_group, "One contact group",
              response=s.GroupOut, tag="groups"),
    Operation("PATCH", f"{V1}/groups/{{group_id}}", m.update_group,
              "Rename, describe, archive or restore a group (IT contact)",
              body=s.GroupUpdate, response=s.GroupOut, tag="groups"),
    Operation("GET", f"{V1}/groups/{{group_id}}/members", m.list_members,
              "Members of my organization's group", response=s.MemberOut,
              list_response=True, tag="groups"),
    Operation("POST", f"{V1}/groups/{{group_id}}/members", m.add_member,
              "Add a user or a whole unit (IT contact)", body=s.MemberCreate,
              response=s.MemberOut, status=201, tag="groups"),
    Operation("DELETE", f"{V1}/groups/{{group_id}}/members/{{member_id}}", m.remove_member,
              "Remove a member (IT contact)", status=204, tag="groups"),
    # messages
    Operation("POST", f"{V1}/messages", m.send_message,
              "Send a message to contact groups (Idempotency-Key header supported)",
              body=s.MessageCreate, response=s.MessageSent, status=201, tag="messages"),
    Operation("GET", f"{V1}/inbox", m.inbox,
              "My inbox, newest first; before, limit, unread, urgent, category, person_id, "
              "group_id, archived", response=s.MessagePage, tag="messages"),
    Operation("GET", f"{V1}/inbox/unread", m.unread_counts, "Unread messages per group",
              response=s.UnreadCounts, tag="messages"),
    Operation("GET", f"{V1}/sent", m.sent_box, "Messages I (scope=unit: my unit) sent",
              response=s.MessagePage, tag="messages"),
    Operation("GET", f"{V1}/threads/{{thread_id}}", m.thread, "A thread, oldest first",
              response=s.MessageSummaryOut, list_response=True, tag="messages"),
    Operation("GET", f"{V1}/messages/{{message_id}}", m.open_message,
              "Open a message (decrypts it and marks it read)", response=s.MessageDetailOut,
              tag="messages"),
    Operation("GET", f"{V1}/messages/{{message_id}}/attachments/{{position}}",
              m.download_attachment, "Download an attachment", tag="messages"),
    Operation("POST", f"{V1}/messages/{{message_id}}/ack", m.acknowledge,
              "Acknowledge a message, with an optional comment", body=s.AckCreate,
              response=s.AckOut, status=201, tag="messages"),
    Operation("POST", f"{V1}/messages/{{message_id}}/unread", m.mark_unread,
              "Mark a message unread for me", status=204, tag="messages"),
    Operation("PUT", f"{V1}/messages/{{message_id}}/archive", m.archive,
              "Archive (or restore) a message for me", body=s.ArchiveUpdate, status=204,
              tag="messages"),
    Operation("GET", f"{V1}/messages/{{message_id}}/receipts", m.receipts,
              "Read receipts and acknowledgements per group and user (sender's unit)",
              response=s.GroupReceiptsOut, list_response=True, tag="messages"),
    Operation("GET", f"{V1}/events", events.stream,
              "Server-Sent Events: message and receipt events (ids only); Last-Event-ID "
              "replays what was missed", tag="messages"),
    # the audit log (compliance officers)
    Operation("POST", f"{V1}/audit/search", c.search,
              "Search the audit log, newest first (personnummer goes in the body, never the "
              "URL)", body=s.AuditSearch, response=s.AuditPage, tag="audit"),
    Operation("POST", f"{V1}/audit/export", c.export,
              "Export a search as CSV or JSON lines, streamed; audited", body=s.AuditExport,
              tag="audit"),
    Operation("GET", f"{V1}/audit/entries/{{seq}}", c.entry,
              "One entry with its canonical bytes and leaf hash (to check a proof)",
              response=s.AuditEntryLeafOut, tag="audit"),
    Operation("POST", f"{V1}/audit/access-report", c.access_report,
              "Who opened information about a person, per organization; audited",
              body=s.PersonRef, response=s.OrganizationAccessOut, list_response=True,
              tag="audit"),
    Operation("GET", f"{V1}/audit/review/refusals", c.refusals,
              "Review queue: sends refused by policy; before, limit", response=s.AuditPage,
              tag="audit"),
    Operation("GET", f"{V1}/audit/review/overrides", c.overrides,
              "Review queue: emergency overrides awaiting review (reviewed=true: done); "
              "before (time), limit; audited", response=s.OverrideOut, list_response=True,
              tag="audit"),
    Operation("POST", f"{V1}/audit/review/overrides/{{override_id}}", c.review_override,
              "Mark an emergency override reviewed, with a comment", body=s.OverrideReview,
              response=s.OverrideOut, tag="audit"),
    Operation("GET", f"{V1}/audit/review/protected-openings", c.protected_openings,
              "Review queue: openings that showed a protected identity; before, limit",
              response=s.AuditPage, tag="audit"),
    Operation("GET", f"{V1}/audit/review/role-changes", c.role_changes,
              "Review queue: accounts given roles (created, or roles changed); before, limit",
              response=s.AuditPage, tag="audit"),
    Operation("GET", f"{V1}/audit/review/failed-logins", c.failed_logins,
              "Review queue: accounts with failed sign-ins over a threshold (last 24 h)",
              response=s.FailedLoginsOut, list_response=True, tag="audit"),
    Operation("GET", f"{V1}/audit/checkpoints", c.checkpoints,
              "Signed checkpoints (C2SP tlog-checkpoint); after", response=s.CheckpointsOut,
              tag="audit"),
    Operation("GET", f"{V1}/audit/checkpoints/latest", c.latest_checkpoint,
              "The latest signed checkpoint", response=s.CheckpointOut, tag="audit"),
    Operation("GET", f"{V1}/audit/proofs/inclusion", c.inclusion_proof,
              "RFC 9162 inclusion proof of entry seq in the checkpointed tree of size",
              response=s.InclusionProofOut, tag="audit"),
    Operation("GET", f"{V1}/audit/proofs/consistency", c.consistency_proof,
              "RFC 9162 consistency proof between checkpointed sizes old and new",
              response=s.ConsistencyProofOut, tag="audit"),
    Operation("POST", f"{V1}/audit/verify", c.verify,
              "Recompute and verify the whole log now; the last verified checkpoint",
              response=s.VerifyOut, tag="audit"),
]


async def openapi(request: web.Request) -> web.Response:
    return web.json_response(openapi_document(OPERATIONS))


def add_api_routes(app: web.Application) -> None:
    add_operations(app, OPERATIONS)
    app.router.add_get(f"{V1}/openapi.json", openapi)


__all__ = ["OPERATIONS", "add_api_routes", "json_of"]

"""API handlers: parse, call one service method, render. Nothing else lives here."""

from __future__ import annotations

import datetime as dt

from aiohttp import web

from hub.api import schemas as s
from hub.api.parsing import parse_json, path_uuid
from hub.api.render import json_of
from hub.domain.identity import format_org_number
from hub.domain.roles import OrgKind
from hub.http.context import actor_of, client_address, hub_of
from hub.services.admin import NewOrganization, NewUser, UserView
from hub.services.auth import LoginAttempt

# -- health ---------------------------------------------------------------------------

async def healthz(request: web.Request) -> web.Response:
    return json_of(s.Health(status="ok"))


async def readyz(request: web.Request) -> web.Response:
    await hub_of(request).check_ready()
    return json_of(s.Health(status="ok"))


# -- sign-in ------------------------------------------------------------------------

async def login(request: web.Request) -> web.Response:
    body = await parse_json(request, s.LoginRequest)
    issued = await hub_of(request).auth.login(LoginAttempt(
        username=body.username, password=body.password, totp_code=body.totp,
        client_address=client_address(request), session_kind="api"))
    return json_of(s.LoginResponse.model_validate(issued), status=201)


async def logout(request: web.Request) -> web.Response:
    await hub_of(request).auth.logout(await actor_of(request))
    return web.Response(status=204)


async def me(request: web.Request) -> web.Response:
    actor = await actor_of(request)
    hub = hub_of(request)
    view = await hub.admin.get_self(actor)
    org = await hub.admin.get_organization(view.user.organization_id)
    return json_of(s.MeResponse(
        user_id=view.user.id, username=view.user.username,
        display_name=view.user.display_name,
        organization=s.OrganizationRef(id=org.id, name=org.name, kind=OrgKind(org.kind)),
        unit_id=view.user.unit_id, roles=sorted(view.roles)))


# -- organizations, units, users --------------------------------------------------------

def _org_out(org: object) -> s.OrganizationOut:
    out = s.OrganizationOut.model_validate(org)
    return out.model_copy(update={"org_number": format_org_number(out.org_number),
                                  "authority": format_org_number(out.authority)})


async def create_organization(request: web.Request) -> web.Response:
    actor = await actor_of(request)
    body = await parse_json(request, s.OrganizationCreate)
    org = await hub_of(request).admin.create_organization(actor, NewOrganization(
        name=body.name, kind=body.kind, org_number=body.org_number, authority=body.authority))
    return json_of(_org_out(org), status=201)


async def secrecy_communities(request: web.Request) -> web.Response:
    actor = await actor_of(request)
    found = await hub_of(request).admin.secrecy_communities(actor)
    return json_of([s.SecrecyCommunityOut.model_validate(c) for c in found])


async def set_community_member(request: web.Request) -> web.Response:
    actor = await actor_of(request)
    community = await hub_of(request).admin.set_community_member(
        actor, request.match_info["community_id"], path_uuid(request, "org_id"),
        member=request.method == "PUT")
    return json_of(s.SecrecyCommunityOut.model_validate(community))


async def list_organizations(request: web.Request) -> web.Response:
    await actor_of(request)
    orgs = await hub_of(request).admin.list_organizations()
    return json_of([_org_out(o) for o in orgs])


async def create_unit(request: web.Request) -> web.Response:
    actor = await actor_of(request)
    body = await parse_json(request, s.UnitCreate)
    unit = await hub_of(request).admin.create_unit(
        actor, path_uuid(request, "org_id"), body.name)
    return json_of(s.UnitOut.model_validate(unit), status=201)


async def list_units(request: web.Request) -> web.Response:
    await actor_of(request)
    units = await hub_of(request).admin.list_units(path_uuid(request, "org_id"))
    return json_of([s.UnitOut.model_validate(u) for u in units])


def _user_out(view: UserView, blocked_until: dt.datetime | None = None) -> s.UserOut:
    u = view.user
    return s.UserOut(id=u.id, organization_id=u.organization_id, unit_id=u.unit_id,
                     username=u.username, display_name=u.display_name,
                     roles=sorted(view.roles), disabled=u.disabled_at is not None,
                     protected_identity=u.protected_identity,
                     sign_in_blocked_until=blocked_until)


async def _users_out(request: web.Request, views: list[UserView]) -> list[s.UserOut]:
    # Accounts the admin service has already let the actor see; the sign-in block
    # belongs to the auth service, which keeps the throttle counts.
    blocks = await hub_of(request).auth.sign_in_blocks(v.user for v in views)
    return [_user_out(v, blocks.get(v.user.id)) for v in views]


async def create_user(request: web.Request) -> web.Response:
    actor = await actor_of(request)
    body = await parse_json(request, s.UserCreate)
    created = await hub_of(request).admin.create_user(actor, NewUser(
        organization_id=path_uuid(request, "org_id"), username=body.username,
        display_name=body.display_name, password=body.password,
        roles=frozenset(body.roles), unit_id=body.unit_id,
        protected_identity=body.protected_identity))
    return json_of(s.UserCreated(
        user=_user_out(UserView(created.user, created.roles)),
        totp_secret=created.totp_secret, totp_uri=created.totp_uri), status=201)


async def list_users(request: web.Request) -> web.Response:
    actor = await actor_of(request)
    views = await hub_of(request).admin.list_users(actor, path_uuid(request, "org_id"))
    return json_of(await _users_out(request, views))


async def get_user(request: web.Request) -> web.Response:
    actor = await actor_of(request)
    view = await hub_of(request).admin.get_user(actor, path_uuid(request, "user_id"))
    [out] = await _users_out(request, [view])
    return json_of(out)


async def set_roles(request: web.Request) -> web.Response:
    actor = await actor_of(request)
    body = await parse_json(request, s.RolesUpdate)
    view = await hub_of(request).admin.set_roles(
        actor, path_uuid(request, "user_id"), frozenset(body.roles))
    return json_of(_user_out(view))


async def set_protected_identity(request: web.Request) -> web.Response:
    actor = await actor_of(request)
    body = await parse_json(request, s.ProtectedIdentityUpdate)
    view = await hub_of(request).admin.set_protected_identity(
        actor, path_uuid(request, "user_id"), body.protected_identity)
    return json_of(_user_out(view))


async def disable_user(request: web.Request) -> web.Response:
    actor = await actor_of(request)
    view = await hub_of(request).admin.set_disabled(actor, path_uuid(request, "user_id"), True)
    return json_of(_user_out(view))


async def enable_user(request: web.Request) -> web.Response:
    actor = await actor_of(request)
    view = await hub_of(request).admin.set_disabled(actor, path_uuid(request, "user_id"), False)
    return json_of(_user_out(view))


async def reset_sign_in(request: web.Request) -> web.Response:
    actor = await actor_of(request)
    body = await parse_json(request, s.SignInReset)
    reset = await hub_of(request).admin.reset_sign_in(
        actor, path_uuid(request, "user_id"), body.password)
    return json_of(s.UserCreated(
        user=_user_out(UserView(reset.user, reset.roles)),
        totp_secret=reset.totp_secret, totp_uri=reset.totp_uri))


# -- API tokens ------------------------------------------------------------------------

async def create_api_token(request: web.Request) -> web.Response:
    actor = await actor_of(request)
    body = await parse_json(request, s.ApiTokenCreate)
    row, token = await hub_of(request).auth.create_api_token(
        actor, body.name, unit_id=body.unit_id, scopes=[str(x) for x in body.scopes],
        expires_at=body.expires_at)
    return json_of(s.ApiTokenCreated(token=token, api_token=s.ApiTokenOut.model_validate(row)),
                   status=201)


async def list_api_tokens(request: web.Request) -> web.Response:
    actor = await actor_of(request)
    rows = await hub_of(request).auth.list_api_tokens(actor)
    return json_of([s.ApiTokenOut.model_validate(r) for r in rows])


async def rotate_api_token(request: web.Request) -> web.Response:
    actor = await actor_of(request)
    hub = hub_of(request)
    row, token = await hub.auth.rotate_api_token(
        actor, path_uuid(request, "token_id"),
        dt.timedelta(hours=hub.settings.api_token_rotation_overlap_hours))
    return json_of(s.ApiTokenCreated(token=token, api_token=s.ApiTokenOut.model_validate(row)))


async def revoke_api_token(request: web.Request) -> web.Response:
    actor = await actor_of(request)
    await hub_of(request).auth.revoke_api_token(actor, path_uuid(request, "token_id"))
    return web.Response(status=204)

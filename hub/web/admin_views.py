"""Web pages for administration: the IT contact's units, accounts, contact groups and
system-client tokens; the operator's organizations and their first IT contacts.

The same services as the API (`AdminService`, `GroupService`, `AuthService`), so the
same rules hold (an IT contact manages its own organization, the operator creates
organizations and IT contacts and nothing inside them) and every change is audited.
A new account's password and TOTP secret, and a new token, are shown once, on the
answer to the form itself: never in a URL, never again.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import secrets
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp_jinja2
import qrcode
import qrcode.image.svg
from aiohttp import web

from hub.domain.localtime import STOCKHOLM
from hub.domain.roles import ROLES_IT_CONTACT_MAY_GRANT, OrgKind, Role, reads_care_messages
from hub.domain.scopes import Scope
from hub.errors import Conflict, Forbidden, NotFound, ValidationFailed
from hub.http.context import hub_of, preferred_language
from hub.services.actor import Actor
from hub.services.admin import CreatedUser, NewOrganization, NewUser
from hub.services.groups import DirectoryQuery
from hub.web.forms import day_after, field_errors, form_uuid, parsed
from hub.web.i18n import TEXTS, org_kind_label
from hub.web.inbox_views import page_context, read_form, signed_in

# Words for generated start passwords: long enough, and readable over the phone.
_ALPHABET = "abcdefghijkmnopqrstuvwxyz23456789"


def start_password() -> str:
    """A start password the IT contact hands over with the QR code: 4 groups of 5."""
    return "-".join("".join(secrets.choice(_ALPHABET) for _ in range(5)) for _ in range(4))


def qr_data_uri(uri: str) -> str:
    """The TOTP enrolment URI as a QR code, an SVG image in a data: URI (the CSP
    allows data: images and no inline markup that could carry script)."""
    image = qrcode.make(uri, image_factory=qrcode.image.svg.SvgPathImage, box_size=8)
    out = io.BytesIO()
    image.save(out)
    return "data:image/svg+xml;base64," + base64.b64encode(out.getvalue()).decode()


def _uuid(request: web.Request, name: str) -> uuid.UUID:
    try:
        return uuid.UUID(request.match_info[name])
    except ValueError:
        raise web.HTTPNotFound() from None


async def _it_contact(request: web.Request) -> Actor:
    actor = await signed_in(request)
    if not actor.has(Role.IT_CONTACT):
        raise web.HTTPForbidden()
    return actor


async def _operator(request: web.Request) -> Actor:
    actor = await signed_in(request)
    if not actor.has(Role.OPERATOR):
        raise web.HTTPForbidden()
    return actor


async def _refused(request: web.Request, action: Callable[[], Awaitable[web.StreamResponse]],
                   again: Callable[[list[str], int], Awaitable[web.StreamResponse]]
                   ) -> web.StreamResponse:
    """Run a change; refused, the page again saying why (in the UI's language)."""
    lang = preferred_language(request)
    texts = TEXTS[lang]
    try:
        return await action()
    except ValidationFailed as err:
        return await again([texts["admin_invalid"], *field_errors(lang, err)], 422)
    except Conflict as err:
        return await again([texts["admin_conflict"], _conflict_text(lang, err)], 409)
    except Forbidden:
        return await again([texts["admin_forbidden"]], 403)
    except NotFound:
        raise web.HTTPNotFound() from None


# The services' words for a clash, and the catalogue's text for each.
_CONFLICTS = {"the username is taken": "conflict_username",
              "a group with this name exists": "conflict_group_name",
              "already a member": "conflict_member",
              "you cannot disable your own account": "conflict_own_disable",
              "another IT contact resets your own sign-in": "conflict_own_reset"}


def _conflict_text(lang: str, err: Conflict) -> str:
    key = _CONFLICTS.get(err.detail or "", "admin_conflict_other")
    return TEXTS[lang][key]


def _role_names(lang: str, roles: Any) -> str:
    texts = TEXTS[lang]
    return ", ".join(texts.get(f"role_{r}", str(r)) for r in sorted(roles))


def _context(request: web.Request, **extra: Any) -> dict[str, Any]:
    lang = preferred_language(request)
    return page_context(request, role_names=lambda roles: _role_names(lang, roles),
                        kind_label=lambda kind: org_kind_label(lang, kind), **extra)


def _created_page(request: web.Request, created: CreatedUser, password: str,
                  back: str, reset: bool = False) -> web.StreamResponse:
    """The one page that shows a start password and TOTP secret (no-store)."""
    response = aiohttp_jinja2.render_template("account_created.html", request, _context(
        request, page="accounts", account=created.user, password=password,
        secret=created.totp_secret, qr=qr_data_uri(created.totp_uri), back=back,
        reset=reset), status=200 if reset else 201)
    response.headers["Cache-Control"] = "no-store"
    return response


# -- the IT contact: accounts ------------------------------------------------------------

async def accounts_page(request: web.Request, errors: list[str] | None = None,
                        status: int = 200, form: Any = None) -> web.StreamResponse:
    actor = await _it_contact(request)
    hub = hub_of(request)
    assert actor.organization_id is not None
    users = await hub.admin.list_users(actor, actor.organization_id)
    units = await hub.admin.list_units(actor.organization_id)
    org = await hub.admin.get_organization(actor.organization_id)
    grantable = [r for r in Role if r in ROLES_IT_CONTACT_MAY_GRANT
                 and (r is not Role.CASE_WORKER or org.kind == OrgKind.CASE_MANAGEMENT)]
    chosen = set(form.getall("roles", [])) if form is not None else {Role.STAFF.value}
    return aiohttp_jinja2.render_template("admin_accounts.html", request, _context(
        request, page="accounts", users=users, units={u.id: u for u in units},
        unit_list=units, grantable=grantable, chosen=chosen, form=form or {},
        errors=errors or []), status=status)


async def account_create(request: web.Request) -> web.StreamResponse:
    actor = await _it_contact(request)
    form = await read_form(request)
    assert actor.organization_id is not None
    org_id = actor.organization_id
    password = start_password()

    async def create() -> web.StreamResponse:
        created = await hub_of(request).admin.create_user(actor, NewUser(
            organization_id=org_id, username=str(form.get("username", ""))[:64],
            display_name=str(form.get("display_name", ""))[:200], password=password,
            roles=frozenset(_roles(form)), unit_id=form_uuid(form, "unit_id"),
            protected_identity=bool(form.get("protected_identity"))))
        return _created_page(request, created, password, f"/admin/konton/{created.user.id}")

    return await _refused(request, create, lambda errors, status: accounts_page(
        request, errors, status, form))


def _roles(form: Any) -> list[Role]:
    try:
        return [Role(str(r)) for r in form.getall("roles", [])]
    except ValueError:
        raise ValidationFailed(errors={"roles": "not valid"}) from None


async def account_page(request: web.Request, errors: list[str] | None = None,
                       status: int = 200) -> web.StreamResponse:
    """One account: the IT contact's own organization's, or an IT contact the
    operator administers."""
    actor = await signed_in(request)
    if not (actor.has(Role.IT_CONTACT) or actor.has(Role.OPERATOR)):
        raise web.HTTPForbidden()
    hub = hub_of(request)
    try:
        view = await hub.admin.get_user(actor, _uuid(request, "user_id"))
    except NotFound:
        raise web.HTTPNotFound() from None
    org = await hub.admin.get_organization(view.user.organization_id)
    units = {u.id: u for u in await hub.admin.list_units(org.id)}
    grantable = [r for r in Role if r in ROLES_IT_CONTACT_MAY_GRANT
                 and (r is not Role.CASE_WORKER or org.kind == OrgKind.CASE_MANAGEMENT)]
    return aiohttp_jinja2.render_template("admin_account.html", request, _context(
        request, page="accounts" if actor.has(Role.IT_CONTACT) else "organizations",
        view=view, org=org, unit=units.get(view.user.unit_id) if view.user.unit_id else None,
        grantable=grantable, may_set_roles=actor.has(Role.IT_CONTACT)
        and actor.organization_id == org.id and view.user.id != actor.user_id,
        own=view.user.id == actor.user_id, errors=errors or []), status=status)


async def account_change(request: web.Request) -> web.StreamResponse:
    actor = await signed_in(request)
    form = await read_form(request)
    admin = hub_of(request).admin
    user_id = _uuid(request, "user_id")
    change = request.match_info["change"]

    async def act() -> web.StreamResponse:
        if change == "roller":
            await admin.set_roles(actor, user_id, frozenset(_roles(form)))
        elif change in ("avstang", "aktivera"):
            await admin.set_disabled(actor, user_id, change == "avstang")
        elif change == "skyddad":
            await admin.set_protected_identity(actor, user_id,
                                               form.get("protected_identity") == "1")
        elif change == "aterstall":
            password = start_password()
            reset = await admin.reset_sign_in(actor, user_id, password)
            return _created_page(request, reset, password, f"/admin/konton/{user_id}",
                                 reset=True)
        else:
            raise NotFound()
        raise web.HTTPSeeOther(f"/admin/konton/{user_id}?klart=sparat")

    return await _refused(request, act, lambda errors, status: account_page(
        request, errors, status))


async def reset_confirm(request: web.Request) -> web.StreamResponse:
    actor = await signed_in(request)
    try:
        view = await hub_of(request).admin.get_user(actor, _uuid(request, "user_id"))
    except (NotFound, Forbidden):
        raise web.HTTPNotFound() from None
    return aiohttp_jinja2.render_template("admin_reset.html", request, _context(
        request, page="accounts", view=view))


# -- the IT contact: units -----------------------------------------------------------------

async def units_page(request: web.Request, errors: list[str] | None = None,
                     status: int = 200) -> web.StreamResponse:
    actor = await _it_contact(request)
    assert actor.organization_id is not None
    units = await hub_of(request).admin.list_units(actor.organization_id)
    return aiohttp_jinja2.render_template("admin_units.html", request, _context(
        request, page="units", units=units, errors=errors or []), status=status)


async def unit_create(request: web.Request) -> web.StreamResponse:
    actor = await _it_contact(request)
    form = await read_form(request)
    assert actor.organization_id is not None
    org_id = actor.organization_id

    async def create() -> web.StreamResponse:
        await hub_of(request).admin.create_unit(actor, org_id, str(form.get("name", ""))[:200])
        raise web.HTTPSeeOther("/admin/enheter?klart=sparat")

    return await _refused(request, create, lambda errors, status: units_page(
        request, errors, status))


# -- the IT contact: contact groups --------------------------------------------------------

async def groups_page(request: web.Request, errors: list[str] | None = None,
                      status: int = 200) -> web.StreamResponse:
    actor = await _it_contact(request)
    hub = hub_of(request)
    assert actor.organization_id is not None
    groups = await hub.groups.directory(DirectoryQuery(
        organization_id=actor.organization_id, include_archived=True))
    units = await hub.admin.list_units(actor.organization_id)
    return aiohttp_jinja2.render_template("admin_groups.html", request, _context(
        request, page="groups", groups=groups, units=units, errors=errors or []),
        status=status)


async def group_create(request: web.Request) -> web.StreamResponse:
    actor = await _it_contact(request)
    form = await read_form(request)

    async def create() -> web.StreamResponse:
        group = await hub_of(request).groups.create(
            actor, str(form.get("name", ""))[:200], unit_id=form_uuid(form, "unit_id"),
            description=str(form.get("description", ""))[:500])
        raise web.HTTPSeeOther(f"/admin/grupper/{group.id}?klart=sparat")

    return await _refused(request, create, lambda errors, status: groups_page(
        request, errors, status))


async def group_page(request: web.Request, errors: list[str] | None = None,
                     status: int = 200) -> web.StreamResponse:
    actor = await _it_contact(request)
    hub = hub_of(request)
    assert actor.organization_id is not None
    group_id = _uuid(request, "group_id")
    try:
        view = await hub.groups.get(group_id)
        if view.group.organization_id != actor.organization_id:
            raise NotFound()
        members = await hub.groups.members(actor, group_id)
    except (NotFound, Forbidden):
        raise web.HTTPNotFound() from None
    users = [u for u in await hub.admin.list_users(actor, actor.organization_id)
             if reads_care_messages(u.roles) and u.user.disabled_at is None]
    units = await hub.admin.list_units(actor.organization_id)
    member_users = {m.member.user_id for m in members}
    member_units = {m.member.unit_id for m in members}
    return aiohttp_jinja2.render_template("admin_group.html", request, _context(
        request, page="groups", view=view, members=members,
        users=[u for u in users if u.user.id not in member_users],
        units=[u for u in units if u.id not in member_units], errors=errors or []),
        status=status)


async def group_change(request: web.Request) -> web.StreamResponse:
    actor = await _it_contact(request)
    form = await read_form(request)
    groups = hub_of(request).groups
    group_id = _uuid(request, "group_id")
    change = request.match_info["change"]

    async def act() -> web.StreamResponse:
        if change == "namn":
            await groups.update(actor, group_id, name=str(form.get("name", ""))[:200])
        elif change in ("arkivera", "aterstall"):
            await groups.update(actor, group_id, archived=change == "arkivera")
        elif change == "medlem":
            user_id, unit_id = form_uuid(form, "user_id"), form_uuid(form, "unit_id")
            await groups.add_member(actor, group_id, user_id=user_id, unit_id=unit_id)
        elif change == "tabort":
            member_id = form_uuid(form, "member_id")
            if member_id is None:
                raise NotFound()
            await groups.remove_member(actor, group_id, member_id)
        else:
            raise NotFound()
        raise web.HTTPSeeOther(f"/admin/grupper/{group_id}?klart=sparat")

    return await _refused(request, act, lambda errors, status: group_page(
        request, errors, status))


# -- the IT contact: system clients' tokens ------------------------------------------------

async def tokens_page(request: web.Request, errors: list[str] | None = None,
                      status: int = 200, token: str | None = None,
                      token_name: str | None = None) -> web.StreamResponse:
    actor = await _it_contact(request)
    hub = hub_of(request)
    assert actor.organization_id is not None
    tokens = await hub.auth.list_api_tokens(actor)
    units = await hub.admin.list_units(actor.organization_id)
    response = aiohttp_jinja2.render_template("admin_tokens.html", request, _context(
        request, page="tokens", tokens=tokens, units=units,
        unit_names={u.id: u.name for u in units}, scopes=list(Scope), token=token,
        token_name=token_name, errors=errors or [], now=hub.clock.now()), status=status)
    if token:
        response.headers["Cache-Control"] = "no-store"
    return response


def _expiry(form: Any) -> dt.datetime | None:
    day = parsed(form, "expires_on", dt.date.fromisoformat)
    if day is None:
        return None
    # Through the whole of the day chosen, Swedish time.
    return dt.datetime.combine(day_after(day, "expires_on"), dt.time(), tzinfo=STOCKHOLM)


async def token_create(request: web.Request) -> web.StreamResponse:
    actor = await _it_contact(request)
    form = await read_form(request)

    async def create() -> web.StreamResponse:
        row, token = await hub_of(request).auth.create_api_token(
            actor, str(form.get("name", ""))[:200], unit_id=form_uuid(form, "unit_id"),
            scopes=[str(s) for s in form.getall("scopes", [])], expires_at=_expiry(form))
        return await tokens_page(request, token=token, token_name=row.name, status=201)

    return await _refused(request, create, lambda errors, status: tokens_page(
        request, errors, status))


async def token_change(request: web.Request) -> web.StreamResponse:
    actor = await _it_contact(request)
    await read_form(request)
    hub = hub_of(request)
    token_id = _uuid(request, "token_id")
    change = request.match_info["change"]

    async def act() -> web.StreamResponse:
        if change == "byt":
            row, token = await hub.auth.rotate_api_token(
                actor, token_id,
                dt.timedelta(hours=hub.settings.api_token_rotation_overlap_hours))
            return await tokens_page(request, token=token, token_name=row.name)
        if change == "aterkalla":
            await hub.auth.revoke_api_token(actor, token_id)
            raise web.HTTPSeeOther("/admin/api-nycklar?klart=sparat")
        raise NotFound()

    return await _refused(request, act, lambda errors, status: tokens_page(
        request, errors, status))


# -- the operator: organizations and their first IT contacts -----------------------------

async def organizations_page(request: web.Request, errors: list[str] | None = None,
                             status: int = 200, form: Any = None) -> web.StreamResponse:
    await _operator(request)
    organizations = await hub_of(request).admin.list_organizations()
    return aiohttp_jinja2.render_template("admin_organizations.html", request, _context(
        request, page="organizations", organizations=organizations,
        kinds=[k for k in OrgKind if k is not OrgKind.OPERATIONS], form=form or {},
        errors=errors or []), status=status)


async def organization_create(request: web.Request) -> web.StreamResponse:
    actor = await _operator(request)
    form = await read_form(request)

    async def create() -> web.StreamResponse:
        try:
            kind = OrgKind(str(form.get("kind", "")))
        except ValueError:
            raise ValidationFailed(errors={"kind": "not valid"}) from None
        org = await hub_of(request).admin.create_organization(actor, NewOrganization(
            name=str(form.get("name", ""))[:200], kind=kind,
            org_number=str(form.get("org_number", ""))[:20],
            authority=str(form.get("authority", "") or form.get("org_number", ""))[:20]))
        raise web.HTTPSeeOther(f"/organisationer/{org.id}?klart=sparat")

    return await _refused(request, create, lambda errors, status: organizations_page(
        request, errors, status, form))


async def organization_page(request: web.Request, errors: list[str] | None = None,
                            status: int = 200) -> web.StreamResponse:
    actor = await _operator(request)
    hub = hub_of(request)
    org_id = _uuid(request, "org_id")
    try:
        org = await hub.admin.get_organization(org_id)
        users = await hub.admin.list_users(actor, org_id)
    except NotFound:
        raise web.HTTPNotFound() from None
    return aiohttp_jinja2.render_template("admin_organization.html", request, _context(
        request, page="organizations", org=org, users=users,
        units=await hub.admin.list_units(org_id), errors=errors or []), status=status)


async def it_contact_create(request: web.Request) -> web.StreamResponse:
    actor = await _operator(request)
    form = await read_form(request)
    org_id = _uuid(request, "org_id")
    password = start_password()

    async def create() -> web.StreamResponse:
        org = await hub_of(request).admin.get_organization(org_id)
        roles = {Role.OPERATOR} if org.kind == OrgKind.OPERATIONS else {Role.IT_CONTACT}
        created = await hub_of(request).admin.create_user(actor, NewUser(
            organization_id=org_id, username=str(form.get("username", ""))[:64],
            display_name=str(form.get("display_name", ""))[:200], password=password,
            roles=frozenset(roles)))
        return _created_page(request, created, password, f"/organisationer/{org_id}")

    return await _refused(request, create, lambda errors, status: organization_page(
        request, errors, status))


def add_admin_routes(app: web.Application) -> None:
    app.router.add_get("/admin/konton", accounts_page)
    app.router.add_post("/admin/konton", account_create)
    app.router.add_get("/admin/konton/{user_id}", account_page)
    app.router.add_get("/admin/konton/{user_id}/aterstall", reset_confirm)
    app.router.add_post("/admin/konton/{user_id}/{change}", account_change)
    app.router.add_get("/admin/enheter", units_page)
    app.router.add_post("/admin/enheter", unit_create)
    app.router.add_get("/admin/grupper", groups_page)
    app.router.add_post("/admin/grupper", group_create)
    app.router.add_get("/admin/grupper/{group_id}", group_page)
    app.router.add_post("/admin/grupper/{group_id}/{change}", group_change)
    app.router.add_get("/admin/api-nycklar", tokens_page)
    app.router.add_post("/admin/api-nycklar", token_create)
    app.router.add_post("/admin/api-nycklar/{token_id}/{change}", token_change)
    app.router.add_get("/organisationer", organizations_page)
    app.router.add_post("/organisationer", organization_create)
    app.router.add_get("/organisationer/{org_id}", organization_page)
    app.router.add_post("/organisationer/{org_id}/it-kontakt", it_contact_create)

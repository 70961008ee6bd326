"""Every API route, once: registration and the OpenAPI document come from this table."""

from __future__ import annotations

from aiohttp import web

from hub.api import handlers as h
from hub.api import schemas as s
from hub.api.context import json_of
from hub.api.openapi import Operation, add_operations, openapi_document

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
              "Create an account (IT contact; operator for a first IT contact)",
              body=s.UserCreate, response=s.UserCreated, status=201, tag="admin"),
    Operation("GET", f"{V1}/users/{{user_id}}", h.get_user, "One account",
              response=s.UserOut, tag="admin"),
    Operation("PUT", f"{V1}/users/{{user_id}}/roles", h.set_roles,
              "Replace roles; ends the user's sessions", body=s.RolesUpdate,
              response=s.UserOut, tag="admin"),
    Operation("POST", f"{V1}/users/{{user_id}}/disable", h.disable_user,
              "Disable an account; ends its sessions", response=s.UserOut, tag="admin"),
    Operation("POST", f"{V1}/users/{{user_id}}/enable", h.enable_user,
              "Enable a disabled account", response=s.UserOut, tag="admin"),
    Operation("GET", f"{V1}/api-tokens", h.list_api_tokens,
              "System-client tokens of my organization", response=s.ApiTokenOut,
              list_response=True, tag="admin"),
    Operation("POST", f"{V1}/api-tokens", h.create_api_token,
              "Issue a token for a system client (IT contact)", body=s.ApiTokenCreate,
              response=s.ApiTokenCreated, status=201, tag="admin"),
    Operation("DELETE", f"{V1}/api-tokens/{{token_id}}", h.revoke_api_token,
              "Revoke a system-client token", status=204, tag="admin"),
    Operation("POST", f"{V1}/persons", h.register_person,
              "Register a person (case worker)", body=s.PersonCreate,
              response=s.PersonCreated, status=201, tag="persons"),
    Operation("GET", f"{V1}/persons/{{person_id}}", h.get_person,
              "Open a person's identity (case worker or engaged organization)",
              response=s.PersonOut, tag="persons"),
    Operation("POST", f"{V1}/engagements", h.add_engagement,
              "Record an engagement (case worker, or IT contact of the unit)",
              body=s.EngagementCreate, response=s.EngagementOut, status=201,
              tag="persons"),
]


async def openapi(request: web.Request) -> web.Response:
    return web.json_response(openapi_document(OPERATIONS))


def add_api_routes(app: web.Application) -> None:
    add_operations(app, OPERATIONS)
    app.router.add_get(f"{V1}/openapi.json", openapi)


__all__ = ["OPERATIONS", "add_api_routes", "json_of"]

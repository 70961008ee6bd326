"""Request and response bodies of the JSON API (they also feed the OpenAPI document)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from hub.domain.roles import OrgKind, Role


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class Response(BaseModel):
    model_config = ConfigDict(from_attributes=True)


Text200 = Annotated[str, StringConstraints(min_length=1, max_length=200)]
ServiceKind = Literal[
    "home_care", "night_care", "alarm_response", "camera_supervision", "relief", "escort",
    "home_health_care", "case_management",
]


class LoginRequest(Request):
    username: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    password: Annotated[str, StringConstraints(min_length=1, max_length=256)]
    totp: Annotated[str, StringConstraints(min_length=1, max_length=10)] = Field(
        description="The current six-digit code from the authenticator app")


class LoginResponse(Response):
    token: str
    session_id: uuid.UUID
    expires_at: dt.datetime


class OrganizationRef(Response):
    id: uuid.UUID
    name: str
    kind: OrgKind


class MeResponse(Response):
    user_id: uuid.UUID
    username: str
    display_name: str
    organization: OrganizationRef
    unit_id: uuid.UUID | None
    roles: list[Role]


class OrganizationCreate(Request):
    name: Text200
    kind: OrgKind
    org_number: Annotated[str, StringConstraints(min_length=10, max_length=11)]
    authority: Annotated[str, StringConstraints(min_length=10, max_length=11)] = Field(
        description="Organisationsnummer of the huvudman (the city, or the company itself)")


class OrganizationOut(Response):
    id: uuid.UUID
    name: str
    kind: OrgKind
    org_number: str
    authority: str


class UnitCreate(Request):
    name: Text200


class UnitOut(Response):
    id: uuid.UUID
    organization_id: uuid.UUID
    name: str


class UserCreate(Request):
    username: Annotated[str, StringConstraints(min_length=3, max_length=64)]
    display_name: Text200
    password: Annotated[str, StringConstraints(min_length=1, max_length=256)]
    roles: Annotated[list[Role], Field(min_length=1, max_length=5)]
    unit_id: uuid.UUID | None = None


class UserOut(Response):
    id: uuid.UUID
    organization_id: uuid.UUID
    unit_id: uuid.UUID | None
    username: str
    display_name: str
    roles: list[Role]
    disabled: bool


class UserCreated(Response):
    user: UserOut
    totp_secret: str = Field(description="Shown once: enrol it in an authenticator app")
    totp_uri: str


class RolesUpdate(Request):
    roles: Annotated[list[Role], Field(min_length=1, max_length=5)]


class ApiTokenCreate(Request):
    name: Annotated[str, StringConstraints(min_length=1, max_length=100)]


class ApiTokenOut(Response):
    id: uuid.UUID
    name: str
    created_at: dt.datetime
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None


class ApiTokenCreated(Response):
    token: str = Field(description="Shown once; the hub keeps only its hash")
    api_token: ApiTokenOut


class PersonCreate(Request):
    personnummer: Annotated[str, StringConstraints(min_length=10, max_length=13)]
    name: Text200
    protected_identity: bool = False


class PersonCreated(Response):
    id: uuid.UUID


class PersonOut(Response):
    id: uuid.UUID
    personnummer: str
    name: str
    protected_identity: bool


class EngagementCreate(Request):
    person_id: uuid.UUID
    unit_id: uuid.UUID
    service_kind: ServiceKind
    starts_on: dt.date
    ends_on: dt.date | None = None


class EngagementOut(Response):
    id: uuid.UUID
    person_id: uuid.UUID
    unit_id: uuid.UUID
    service_kind: ServiceKind
    starts_on: dt.date
    ends_on: dt.date | None


class Health(Response):
    status: Literal["ok"]

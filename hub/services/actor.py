"""Who is acting: a signed-in person or a system client with an API token."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Literal

from hub.domain.roles import Role
from hub.domain.scopes import Scope
from hub.errors import Forbidden


@dataclass(frozen=True)
class Actor:
    kind: Literal["user", "system", "cli"]
    organization_id: uuid.UUID | None
    user_id: uuid.UUID | None = None
    unit_id: uuid.UUID | None = None
    roles: frozenset[Role] = field(default_factory=frozenset)
    session_id: uuid.UUID | None = None
    token_id: uuid.UUID | None = None
    # Where the request came from, for the audit log (set per request by the API).
    client_address: str | None = None
    # A system client's scopes (`hub.domain.scopes.Scope`); None for a person, whose
    # roles alone decide.
    scopes: frozenset[Scope] | None = None

    def has(self, role: Role) -> bool:
        return role in self.roles

    def require(self, *roles: Role) -> None:
        """Raise Forbidden unless the actor holds at least one of `roles`."""
        if not any(r in self.roles for r in roles):
            raise Forbidden()

    def require_scope(self, scope: Scope) -> None:
        """Raise Forbidden if the actor is a system client whose token lacks `scope`."""
        if self.scopes is not None and scope not in self.scopes:
            raise Forbidden(f"the token's scopes do not include {scope.value}")


# The admin CLI runs on the hub's own machine with the master key: it acts as the
# operator (STYLE.md: authorization in services, so the CLI goes through them too).
CLI_OPERATOR = Actor(kind="cli", organization_id=None, roles=frozenset({Role.OPERATOR}))

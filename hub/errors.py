"""The hub's one exception tree.

Every error a client can see is a `HubError`. It carries a stable machine `code`
(used as the last part of the problem `type` URI), an HTTP `status`, and a safe
title in Swedish and English. The API middleware renders it as
`application/problem+json` (RFC 9457); anything that is not a `HubError` becomes a
generic 500 with a request id and a log line, never a stack trace to the client.

    HubError                         500 internal
    +-- BadRequest                   400 bad_request
    |   +-- ValidationFailed         422 validation_failed (field errors in `errors`)
    |   |   +-- UnknownPerson        422 unknown_person: an emergency override about
    |   |                                a person nobody is registered as
    |   +-- PayloadTooLarge          413 payload_too_large
    |   +-- UnsupportedMediaType     415 unsupported_media_type
    +-- Unauthenticated              401 unauthenticated
    |   +-- InvalidCredentials       401 invalid_credentials
    +-- Forbidden                    403 forbidden
    +-- PolicyRefused                403 policy_refused (the rules that said no in
    |                                `refusals`)
    +-- NotFound                     404 not_found
    +-- MethodNotAllowed             405 method_not_allowed
    +-- Conflict                     409 conflict
    +-- TooManyAttempts              429 too_many_attempts (with retry_after seconds)
    +-- ServiceUnavailable           503 service_unavailable (with retry_after seconds):
                                     the database cannot do this now (read-only, or the
                                     connection was lost); nothing was changed, try again
    +-- NotReady                     503 not_ready: the readiness probe's answer (the
                                     database does not answer, or is not migrated)

Messages never hold personal data: no personnummer, names or message text.
Not found and not allowed look the same to someone outside an organization
(ARCHITECTURE.md): services raise `NotFound` for both.
"""

from __future__ import annotations

import uuid
from typing import Any, ClassVar

PROBLEM_BASE = "https://hub.goteborg.example/problems/"


class HubError(Exception):
    status: ClassVar[int] = 500
    code: ClassVar[str] = "internal"
    title_sv: ClassVar[str] = "Internt fel"
    title_en: ClassVar[str] = "Internal error"

    def __init__(self, detail: str | None = None, **extra: Any) -> None:
        super().__init__(detail or self.title_en)
        self.detail = detail
        self.extra = extra

    def problem(self, lang: str = "sv") -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": PROBLEM_BASE + self.code,
            "title": self.title_en if lang == "en" else self.title_sv,
            "status": self.status,
            "code": self.code,
        }
        if self.detail:
            body["detail"] = self.detail
        body.update(self.extra)
        return body


class BadRequest(HubError):
    status = 400
    code = "bad_request"
    title_sv = "Felaktig begäran"
    title_en = "Bad request"


class ValidationFailed(BadRequest):
    status = 422
    code = "validation_failed"
    title_sv = "Uppgifterna är inte giltiga"
    title_en = "The request is not valid"


class PayloadTooLarge(BadRequest):
    status = 413
    code = "payload_too_large"
    title_sv = "Begäran är för stor"
    title_en = "Request body too large"


class UnsupportedMediaType(BadRequest):
    status = 415
    code = "unsupported_media_type"
    title_sv = "Innehållstypen stöds inte"
    title_en = "Unsupported media type"


class Unauthenticated(HubError):
    status = 401
    code = "unauthenticated"
    title_sv = "Inloggning krävs"
    title_en = "Authentication required"


class InvalidCredentials(Unauthenticated):
    code = "invalid_credentials"
    title_sv = "Fel användarnamn, lösenord eller engångskod"
    title_en = "Wrong username, password or one-time code"


class UnknownPerson(ValidationFailed):
    """An emergency override about a person nobody is registered as."""

    code = "unknown_person"
    title_sv = "Personen finns inte registrerad"
    title_en = "No such person is registered"


class Forbidden(HubError):
    status = 403
    code = "forbidden"
    title_sv = "Du har inte behörighet"
    title_en = "Not allowed"


class PolicyRefused(HubError):
    status = 403
    code = "policy_refused"
    title_sv = "Meddelandet får inte skickas"
    title_en = "The message may not be sent"

    # For the audit entry; not shown to the client beyond `refusals`.
    person_id: uuid.UUID | None = None
    rules: list[str] = []  # noqa: RUF012 - replaced per instance, never mutated
    organizations: list[uuid.UUID] = []  # noqa: RUF012


class NotFound(HubError):
    status = 404
    code = "not_found"
    title_sv = "Finns inte"
    title_en = "Not found"


class MethodNotAllowed(HubError):
    status = 405
    code = "method_not_allowed"
    title_sv = "Metoden stöds inte här"
    title_en = "Method not allowed"


class Conflict(HubError):
    status = 409
    code = "conflict"
    title_sv = "Konflikt med befintliga uppgifter"
    title_en = "Conflict with existing data"


class TooManyAttempts(HubError):
    status = 429
    code = "too_many_attempts"
    title_sv = "För många försök, vänta en stund"
    title_en = "Too many attempts, wait a while"

    def __init__(self, retry_after: int) -> None:
        super().__init__(None, retry_after=retry_after)
        self.retry_after = retry_after


class ServiceUnavailable(HubError):
    status = 503
    code = "service_unavailable"
    title_sv = "Tjänsten är tillfälligt otillgänglig, försök igen om en stund"
    title_en = "Temporarily unavailable, try again shortly"

    def __init__(self, detail: str | None = None, retry_after: int = 5) -> None:
        super().__init__(detail, retry_after=retry_after)
        self.retry_after = retry_after


class NotReady(HubError):
    status = 503
    code = "not_ready"
    title_sv = "Hubben är inte redo"
    title_en = "The hub is not ready"

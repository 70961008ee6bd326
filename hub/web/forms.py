"""Reading the flows' web forms: fields parsed into what the services take, and a
step run so that a refusal shows the page again with what went wrong.

A field that does not parse is a refusal naming it (ValidationFailed), never a bare
ValueError: one from anywhere else stays the bug it is (a 500).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from aiohttp import web

from hub.errors import Conflict, Forbidden, NotFound, PolicyRefused, ValidationFailed
from hub.http.context import preferred_language
from hub.web.i18n import TEXTS

T = TypeVar("T")


def parsed(form: Any, name: str, parse: Callable[[str], T]) -> T | None:
    """A form field parsed, None if empty; a field that does not parse is a refusal
    naming it (so a ValueError from anywhere else stays the bug it is)."""
    text = str(form.get(name) or "").strip()
    if not text:
        return None
    try:
        return parse(text)
    except ValueError:
        raise ValidationFailed(errors={name: "not valid"}) from None


def form_date(form: Any, name: str) -> dt.date | None:
    return parsed(form, name, dt.date.fromisoformat)


def form_uuid(form: Any, name: str) -> uuid.UUID | None:
    return parsed(form, name, uuid.UUID)


def required_uuid(form: Any, name: str) -> uuid.UUID:
    found = form_uuid(form, name)
    if found is None:
        raise ValidationFailed(errors={name: "required"})
    return found


def form_int(form: Any, name: str) -> int | None:
    return parsed(form, name, int)


def field_errors(texts: dict[str, str], err: ValidationFailed) -> list[str]:
    return [f"{texts.get('field_' + k, k)}: {v}"
            for k, v in dict(err.extra.get("errors", {})).items()]


async def run_step(request: web.Request, action: Callable[[], Awaitable[str]],
                   again: Callable[[list[str], int], Awaitable[web.StreamResponse]]
                   ) -> web.StreamResponse:
    """Run a step: done, on to the page `action` names (saying so); refused, the page
    again with what went wrong."""
    texts = TEXTS[preferred_language(request)]
    try:
        where = await action()
    except ValidationFailed as err:
        return await again([texts["assignment_invalid"], *field_errors(texts, err)], 422)
    except PolicyRefused as err:
        lang = preferred_language(request)
        return await again([texts["flow_refused"]] + [
            r["reason_en" if lang == "en" else "reason_sv"]
            for r in err.extra.get("refusals", [])], 403)
    except Conflict:
        return await again([texts["assignment_step_refused"]], 409)
    except Forbidden:
        return await again([texts["assignment_step_refused"]], 403)
    except NotFound:
        raise web.HTTPNotFound() from None
    raise web.HTTPSeeOther(f"{where}?skickat=1")



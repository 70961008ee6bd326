"""Reading the flows' web forms: fields parsed into what the services take, and a
step run so that a refusal shows the page again with what went wrong.

A field that does not parse is a refusal naming it (ValidationFailed), never a bare
ValueError: one from anywhere else stays the bug it is (a 500).
"""

from __future__ import annotations

import datetime as dt
import uuid
import warnings
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.multipart import BadContentDispositionHeader, BadContentDispositionParam
from multidict import MultiDict

from hub.domain.text import UNSTORABLE_MESSAGE, storable
from hub.errors import Conflict, Forbidden, NotFound, PolicyRefused, ValidationFailed
from hub.http.context import preferred_language, require_same_origin
from hub.services.messages import MAX_ATTACHMENTS, MAX_TOTAL_ATTACHMENT_BYTES, AttachmentDraft
from hub.web.i18n import TEXTS, field_problem

# Room for the attachments and a form's own fields.
MULTIPART_LIMIT = MAX_TOTAL_ATTACHMENT_BYTES + 256 * 1024
# aiohttp warns of a malformed Content-Disposition on stderr, quoting it: a file name
# may name a person. The part is refused (400) without it.
warnings.filterwarnings("ignore", category=BadContentDispositionHeader)
warnings.filterwarnings("ignore", category=BadContentDispositionParam)

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
    """An integer field, within what both databases store (64 bits)."""
    value = parsed(form, name, int)
    if value is not None and not -2**63 < value < 2**63:
        raise ValidationFailed(errors={name: "not valid"})
    return value


def day_after(day: dt.date, name: str) -> dt.date:
    """The next day; the last day there is is refused as the field it came from."""
    try:
        return day + dt.timedelta(days=1)
    except OverflowError:
        raise ValidationFailed(errors={name: "not valid"}) from None


def field_errors(lang: str, err: ValidationFailed) -> list[str]:
    """What a refusal found wrong, field by field, in the UI's language."""
    return [field_problem(lang, name, str(problem))
            for name, problem in dict(err.extra.get("errors", {})).items()]


async def run_step(request: web.Request, action: Callable[[], Awaitable[str]],
                   again: Callable[[list[str], int], Awaitable[web.StreamResponse]]
                   ) -> web.StreamResponse:
    """Run a step: done, on to the page `action` names (saying so); refused, the page
    again with what went wrong."""
    texts = TEXTS[preferred_language(request)]
    try:
        where = await action()
    except ValidationFailed as err:
        return await again([texts["assignment_invalid"],
                            *field_errors(preferred_language(request), err)], 422)
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


async def read_multipart_form(request: web.Request, fields_allowed: int = 10
                              ) -> tuple[MultiDict[str], list[AttachmentDraft]]:
    """A same-origin multipart form: its text fields, and its files as attachments
    (empty file inputs skipped). Read part by part: at most MAX_ATTACHMENTS plus
    `fields_allowed` parts and
    MULTIPART_LIMIT bytes of their bodies in all, whatever the request says of its
    length; a malformed body is a 400, text that cannot be stored a 422. The form
    may have `fields_allowed` text fields besides the files."""
    require_same_origin(request)
    if request.content_type != "multipart/form-data":
        raise web.HTTPUnsupportedMediaType()
    if (request.content_length or 0) > MULTIPART_LIMIT:
        raise web.HTTPRequestEntityTooLarge(max_size=MULTIPART_LIMIT,
                                            actual_size=request.content_length or 0)
    fields: MultiDict[str] = MultiDict()
    files: list[AttachmentDraft] = []
    total = 0
    try:
        reader = await request.multipart()
        parts = 0
        while (part := await reader.next()) is not None:
            parts += 1
            if parts > MAX_ATTACHMENTS + fields_allowed or not isinstance(part, BodyPartReader) \
                    or not part.name:
                raise web.HTTPBadRequest()
            data = bytearray()
            while chunk := await part.read_chunk():
                total += len(chunk)
                if total > MULTIPART_LIMIT:
                    raise web.HTTPRequestEntityTooLarge(max_size=MULTIPART_LIMIT,
                                                        actual_size=total)
                data.extend(chunk)
            if part.filename is not None:
                if data or part.filename:
                    files.append(AttachmentDraft(
                        part.filename, part.headers.get("Content-Type",
                                                        "application/octet-stream"),
                        bytes(data)))
                continue
            try:
                fields.add(part.name, data.decode("utf-8"))
            except UnicodeDecodeError:
                raise web.HTTPBadRequest() from None
    except (ValueError, HttpProcessingError):
        raise web.HTTPBadRequest() from None
    bad = {name if storable(name) else "form": UNSTORABLE_MESSAGE
           for name, value in fields.items() if not storable(name) or not storable(value)}
    if bad:
        raise ValidationFailed(errors=bad)
    return fields, files

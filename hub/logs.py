"""Logging with structlog: JSON lines when not on a terminal, pretty otherwise.

`scrub_personal_data` runs on every event before it is rendered: it drops fields
whose names say they may hold personal data and masks anything shaped like a
personnummer or samordningsnummer in the fields that remain. Log events carry ids,
never names or message text; the processor is the safety net for mistakes.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any

import structlog

# 10 or 12 digits with an optional -, + or space before the last four: the shapes a
# personnummer or samordningsnummer is written in (and that the parser accepts).
PERSONNUMMER_SHAPE = re.compile(r"(?<!\d)(?:\d{2})?\d{6}[-+ ]?\d{4}(?!\d)")
# Ids (UUIDs, with or without dashes) are matched first and kept: a run of ten
# decimal digits inside one is common and must not be masked.
_ID_OR_PERSONNUMMER = re.compile(
    r"(?P<id>\b[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}\b|\b[0-9a-fA-F]{32}\b)"
    r"|" + PERSONNUMMER_SHAPE.pattern)
MASK = "[personnummer]"
DROPPED = "[removed]"
SENSITIVE_KEYS = frozenset({
    "personnummer", "pnr", "ssn", "name", "full_name", "display_name", "first_name",
    "last_name", "subject", "body", "text", "content", "message", "password", "totp",
    "totp_code", "code", "secret", "token", "authorization", "cookie", "comment",
    "reason", "username", "email", "phone", "address",
})


def _mask(value: Any) -> Any:
    if isinstance(value, str):
        return _ID_OR_PERSONNUMMER.sub(lambda m: m["id"] or MASK, value)
    if isinstance(value, Mapping):
        return {k: (DROPPED if str(k).lower() in SENSITIVE_KEYS else _mask(v))
                for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_mask(v) for v in value]
    return value


def scrub_personal_data(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: drop personal-data fields, mask personnummer shapes."""
    for key in list(event_dict):
        if key == "event":
            event_dict[key] = _mask(event_dict[key])
        elif key.lower() in SENSITIVE_KEYS:
            event_dict[key] = DROPPED
        else:
            event_dict[key] = _mask(event_dict[key])
    return event_dict


class _Sink:
    """The stream log lines go to, as configured last: a logger made (and cached)
    before `configure_logging` runs again writes where it now says."""

    stream: Any = sys.stderr

    def write(self, text: str) -> None:
        self.stream.write(text)

    def flush(self) -> None:
        self.stream.flush()


_SINK = _Sink()


class _NamedWriteLogger(structlog.WriteLogger):
    """structlog's plain writer, with the logger's name for `add_logger_name`."""

    def __init__(self, name: str) -> None:
        super().__init__(_SINK)  # type: ignore[arg-type]
        self.name = name


def configure_logging(fmt: str = "auto", level: str = "info", stream: Any = None) -> None:
    """Configure structlog and the stdlib root logger once, at program start.

    The hub's own events go from structlog straight to the stream (a fraction of the
    cost of a trip through the standard library's logging, which a sent message would
    pay once); other libraries' records go through the root logger's handler, with the
    same processors on the way."""
    stream = stream or sys.stderr
    _SINK.stream = stream
    as_json = fmt == "json" or (fmt == "auto" and not stream.isatty())
    renderer: Any = (
        structlog.processors.JSONRenderer() if as_json
        # Plain tracebacks: the rich formatter would print local variables, which
        # may hold personal data.
        else structlog.dev.ConsoleRenderer(
            colors=stream.isatty(), exception_formatter=structlog.dev.plain_traceback)
    )
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        scrub_personal_data,
    ]
    structlog.configure(
        processors=[*shared, renderer],
        logger_factory=lambda *args: _NamedWriteLogger(args[0] if args else ""),
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping()[level.upper()]),
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(stream)
    handler.setFormatter(structlog.stdlib.ProcessorFormatter(
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        foreign_pre_chain=shared,
    ))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # aiohttp's access log would print URLs and addresses we log ourselves, scrubbed.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)

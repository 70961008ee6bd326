"""The log processor masks personnummer shapes and drops personal-data fields,
whether the event comes through structlog or through the standard library."""

from __future__ import annotations

import io
import json
import logging
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import structlog

from hub.logs import configure_logging

# Synthetic: Skatteverket's test number in its written forms.
SHAPES = ["191212121212", "19121212-1212", "121212-1212", "121212+1212", "1212121212",
          "19121212+1212", "19121212 1212", "121212 1212"]


@pytest.fixture
def captured() -> Iterator[Callable[[], list[dict[str, Any]]]]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    stream = io.StringIO()
    configure_logging(fmt="json", level="debug", stream=stream)

    def lines() -> list[dict[str, Any]]:
        return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]

    yield lines
    structlog.reset_defaults()
    root.handlers[:] = handlers
    root.setLevel(level)


def only_line(captured: Callable[[], list[dict[str, Any]]]) -> tuple[dict[str, Any], str]:
    lines = captured()
    assert len(lines) == 1
    return lines[0], json.dumps(lines[0])


@pytest.mark.parametrize("shape", SHAPES)
def test_personnummer_in_the_structlog_event_text_is_masked(captured, shape: str) -> None:
    structlog.get_logger("t").info(f"lookup failed for {shape} today")
    line, raw = only_line(captured)
    assert shape not in raw
    assert line["event"] == "lookup failed for [personnummer] today"


@pytest.mark.parametrize("shape", SHAPES)
def test_personnummer_in_nested_values_is_masked(captured, shape: str) -> None:
    structlog.get_logger("t").info(
        "imported", detail={"rows": [{"pnr_text": f"id {shape}"}, shape], "ok": True},
        note=f"({shape})", numbers=(shape, 7))
    line, raw = only_line(captured)
    assert shape not in raw
    assert line["detail"]["rows"] == [{"pnr_text": "id [personnummer]"}, "[personnummer]"]
    assert line["detail"]["ok"] is True
    assert line["note"] == "([personnummer])"
    assert line["numbers"] == ["[personnummer]", 7]


@pytest.mark.parametrize("shape", SHAPES)
def test_personnummer_through_the_standard_library_is_masked(captured, shape: str) -> None:
    logging.getLogger("thirdparty").warning("row %s rejected: %s", 3, shape)
    line, raw = only_line(captured)
    assert shape not in raw
    assert line["event"] == "row 3 rejected: [personnummer]"
    assert line["logger"] == "thirdparty"


def test_personnummer_in_a_logged_exception_is_masked(captured) -> None:
    try:
        raise ValueError("cannot parse 19121212-1212")
    except ValueError:
        structlog.get_logger("t").exception("import_failed")
    _line, raw = only_line(captured)
    assert "19121212-1212" not in raw
    assert "[personnummer]" in raw


@pytest.mark.parametrize("field", ["name", "subject", "body", "password", "totp", "token"])
def test_personal_data_fields_are_removed(captured, field: str) -> None:
    structlog.get_logger("t").info("event_with_field", **{field: "Tolvan Tolvansson secret"})
    line, raw = only_line(captured)
    assert "Tolvan" not in raw
    assert line.get(field, "[removed]") == "[removed]"


@pytest.mark.parametrize("field", ["name", "subject", "body", "password", "totp", "token"])
def test_personal_data_fields_nested_in_values_are_removed(captured, field: str) -> None:
    structlog.get_logger("t").info("nested", payload={"outer": {field: "Tolvan Tolvansson"}})
    _line, raw = only_line(captured)
    assert "Tolvan" not in raw


def test_ids_and_harmless_fields_stay(captured) -> None:
    user_id, message_id = str(uuid.uuid4()), uuid.uuid4().hex
    structlog.get_logger("t").info(
        "message_sent", user_id=user_id, message_id=message_id, recipient_count=12,
        seq=1234567890123, status=201)
    line, _raw = only_line(captured)
    assert line["event"] == "message_sent"
    assert line["user_id"] == user_id
    assert line["message_id"] == message_id
    assert line["recipient_count"] == 12
    assert line["seq"] == 1234567890123
    assert line["status"] == 201
    assert line["level"] == "info"
    assert "timestamp" in line


# Ids whose digit runs look like a personnummer: a 12-digit last group, ten digits
# around a dash, a long digit run inside a hex id.
@pytest.mark.parametrize("value", [
    "2a9019ef-b89c-41af-b353-160690979796", "a1123456-7890-4abc-8def-0123456789ab",
    "6457a34058964a3cbf1234567890d3ab", "91212121-2124-4bcd-9212-1212121212ab",
])
def test_ids_with_long_digit_runs_are_not_mangled(captured, value: str) -> None:
    structlog.get_logger("t").info(f"opened {value}", message_id=value, ids=[value])
    line, _raw = only_line(captured)
    assert line["event"] == f"opened {value}"
    assert line["message_id"] == value
    assert line["ids"] == [value]


def test_numbers_that_are_not_personnummer_shaped_stay(captured) -> None:
    structlog.get_logger("t").info("sizes 123456789 and 1234567890123 bytes")
    line, _raw = only_line(captured)
    assert line["event"] == "sizes 123456789 and 1234567890123 bytes"


def test_bound_context_is_scrubbed_too(captured) -> None:
    structlog.contextvars.bind_contextvars(name="Tolvan Tolvansson", request_id="abc123")
    try:
        structlog.get_logger("t").info("with_context")
    finally:
        structlog.contextvars.clear_contextvars()
    line, raw = only_line(captured)
    assert "Tolvan" not in raw
    assert line["request_id"] == "abc123"

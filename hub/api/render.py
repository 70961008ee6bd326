"""JSON answers of the API."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import BaseModel


def json_of(model: BaseModel | list[Any], status: int = 200) -> web.Response:
    if isinstance(model, list):
        text = "[" + ",".join(m.model_dump_json() for m in model) + "]"
    else:
        text = model.model_dump_json()
    return web.Response(text=text, status=status, content_type="application/json")

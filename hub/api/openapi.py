"""A route table that both registers the handlers and describes them in OpenAPI 3.1."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiohttp import web
from pydantic import BaseModel

from hub.http.middleware import Handler


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    handler: Handler
    summary: str
    body: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    status: int = 200
    list_response: bool = False
    auth: bool = True
    tag: str = "hub"
    # A body that is not JSON, e.g. "text/csv" (documented as a string).
    body_type: str | None = None


def add_operations(app: web.Application, operations: list[Operation]) -> None:
    for op in operations:
        app.router.add_route(op.method, op.path, op.handler)


def openapi_document(operations: list[Operation]) -> dict[str, Any]:
    schemas: dict[str, Any] = {}

    def ref(model: type[BaseModel]) -> dict[str, Any]:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        for name, sub in schema.pop("$defs", {}).items():
            schemas[name] = sub
        schemas[model.__name__] = schema
        return {"$ref": f"#/components/schemas/{model.__name__}"}

    problem = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    paths: dict[str, Any] = {}
    for op in operations:
        item: dict[str, Any] = {"summary": op.summary, "tags": [op.tag], "responses": {}}
        params = [seg[1:-1] for seg in op.path.split("/") if seg.startswith("{")]
        if params:
            item["parameters"] = [
                {"name": p, "in": "path", "required": True,
                 "schema": {"type": "integer", "minimum": 0} if p == "position"
                 else {"type": "string", "format": "uuid"}} for p in params
            ]
        if op.body is not None:
            item["requestBody"] = {"required": True,
                                   "content": {"application/json": {"schema": ref(op.body)}}}
        elif op.body_type is not None:
            item["requestBody"] = {"required": True,
                                   "content": {op.body_type: {"schema": {"type": "string"}}}}
        if op.response is not None:
            schema = ref(op.response)
            if op.list_response:
                schema = {"type": "array", "items": schema}
            item["responses"][str(op.status)] = {
                "description": "OK", "content": {"application/json": {"schema": schema}}}
        else:
            item["responses"][str(op.status)] = {"description": "OK"}
        item["responses"]["default"] = {"description": "A problem (RFC 9457)",
                                        "content": problem}
        if op.auth:
            item["security"] = [{"bearer": []}]
        paths.setdefault(op.path, {})[op.method.lower()] = item
    schemas["Problem"] = {
        "type": "object",
        "properties": {"type": {"type": "string"}, "title": {"type": "string"},
                       "status": {"type": "integer"}, "code": {"type": "string"},
                       "detail": {"type": "string"}, "request_id": {"type": "string"}},
        "required": ["type", "title", "status", "code"],
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "Göteborgs omsorgshubb API", "version": "1"},
        "paths": paths,
        "components": {"schemas": schemas,
                       "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
    }

"""The OpenAPI 3.1 document, built from the endpoints' own declarations: each request and
answer schema is the JSON Schema of the pydantic model the handler validates with or
returns (`models_json_schema`, refs into `components/schemas`), so the document cannot
drift from what the API does."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from chatcentral.api.endpoint import Endpoint
from chatcentral.api.problems import MEDIA_TYPE, Problem

VERSION = "1.0.0"
REF = "#/components/schemas/{model}"
_PARAM = re.compile(r"\{(\w+)(?::\w+)?\}")
_PROBLEM_TITLES = {
    400: "The body is not valid JSON",
    401: "Missing, unknown or revoked API key",
    403: "Not included in the shop's plan (the problem names the plan that includes it)",
    404: "No such resource in this shop",
    409: "Refused in the resource's current state",
    413: "Request body too large",
    422: "Invalid fields (each named in `errors`)",
}


def openapi_path(path: str) -> str:
    """`/orders/{order_id:int}` → `/orders/{order_id}`."""
    return _PARAM.sub(r"{\1}", path)


def document(endpoints: Iterable[Endpoint], prefix: str) -> dict[str, Any]:
    endpoints = list(endpoints)
    wanted: list[tuple[type[BaseModel], JsonSchemaMode]] = [(Problem, "serialization")]
    for endpoint in endpoints:
        for model in (endpoint.query, endpoint.body):
            if model is not None:
                wanted.append((model, "validation"))
        if endpoint.response is not None:
            wanted.append((endpoint.response, "serialization"))
    wanted = list(dict.fromkeys(wanted))
    refs, definitions = models_json_schema(wanted, ref_template=REF)
    schemas: dict[str, Any] = definitions.get("$defs", {})

    def ref(model: type[BaseModel], mode: JsonSchemaMode) -> dict[str, Any]:
        return dict(refs[(model, mode)])

    problem = {MEDIA_TYPE: {"schema": ref(Problem, "serialization")}}
    paths: dict[str, dict[str, Any]] = {}
    for endpoint in endpoints:
        operation: dict[str, Any] = {
            "operationId": endpoint.operation_id,
            "summary": endpoint.summary,
            "tags": [endpoint.tag],
            "parameters": _path_parameters(endpoint.path),
            "responses": {},
        }
        if endpoint.description:
            operation["description"] = endpoint.description
        if endpoint.query is not None:
            operation["parameters"] += _query_parameters(endpoint.query, schemas, refs)
        if endpoint.body is not None:
            operation["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": ref(endpoint.body, "validation")}},
            }
        elif endpoint.body_media:
            operation["requestBody"] = {
                "required": True,
                "content": {media: _raw_schema(media) for media in endpoint.body_media},
            }
        success: dict[str, Any] = {"description": endpoint.summary}
        if endpoint.response is not None:
            success["content"] = {
                "application/json": {"schema": ref(endpoint.response, "serialization")}
            }
        elif endpoint.response_media is not None:
            success["content"] = {endpoint.response_media: {"schema": {"type": "string"}}}
        operation["responses"][str(endpoint.status)] = success
        codes = {401, 403, *endpoint.problems}
        if endpoint.query is not None or endpoint.body is not None or endpoint.body_media:
            codes.add(422)
        if endpoint.body is not None or endpoint.body_media:
            codes.add(413)
        if endpoint.body is not None:
            codes.add(400)
        if _PARAM.search(endpoint.path):
            codes.add(404)
        for code in sorted(codes):
            operation["responses"][str(code)] = {
                "description": _PROBLEM_TITLES[code],
                "content": problem,
            }
        paths.setdefault(prefix + openapi_path(endpoint.path), {})[endpoint.method.lower()] = (
            operation
        )
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "chatcentral admin API",
            "version": VERSION,
            "description": (
                "A shop's orders, catalog, conversations and customers. Authenticate with "
                "the shop's API key (`chatcentral tenant apikey create SLUG`) as "
                "`Authorization: Bearer <key>`. Errors are RFC 9457 problem details."
            ),
        },
        "servers": [{"url": "/"}],
        "security": [{"apiKey": []}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"apiKey": {"type": "http", "scheme": "bearer"}},
        },
    }


def _raw_schema(media: str) -> dict[str, Any]:
    if media.startswith("text/"):
        return {"schema": {"type": "string"}}
    return {"schema": {"type": "string", "contentMediaType": media}}


def _path_parameters(path: str) -> list[dict[str, Any]]:
    return [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": {"type": "integer", "minimum": 1, "maximum": 2**63 - 1},
        }
        for name in _PARAM.findall(path)
    ]


def _query_parameters(
    model: type[BaseModel], schemas: dict[str, Any], refs: Any
) -> list[dict[str, Any]]:
    """One parameter per field of the query model, its schema taken from the model's."""
    name = refs[(model, "validation")]["$ref"].rsplit("/", 1)[-1]
    schema = schemas[name]
    required = set(schema.get("required", ()))
    parameters = []
    for field, field_schema in schema.get("properties", {}).items():
        parameter: dict[str, Any] = {
            "name": field,
            "in": "query",
            "required": field in required,
            "schema": field_schema,
        }
        if "description" in field_schema:
            parameter["description"] = field_schema["description"]
        if _is_array(field_schema):
            parameter["style"] = "form"
            parameter["explode"] = True
        parameters.append(parameter)
    return parameters


def _is_array(schema: dict[str, Any]) -> bool:
    if schema.get("type") == "array":
        return True
    return any(_is_array(option) for option in schema.get("anyOf", ()))

"""Requests generated from an OpenAPI 3.1 document with Hypothesis: for each operation,
path ids, query parameters and JSON bodies drawn from the document's own schemas, mixed
with values outside them (any JSON, any text), so both the valid paths and the refusals
are exercised. A small converter for the JSON Schema subset pydantic emits; enough to
ask "does any request answer 500?"."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC
from typing import Any

from hypothesis import strategies as st

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


@dataclass(frozen=True)
class Operation:
    method: str
    path: str  # OpenAPI form, /api/v1/orders/{order_id}
    operation: dict[str, Any]


@dataclass(frozen=True)
class Request:
    method: str
    url: str
    params: list[tuple[str, str]]
    content: bytes | None
    headers: dict[str, str]


def operations(document: dict[str, Any]) -> list[Operation]:
    return [
        Operation(method.upper(), path, operation)
        for path, methods in document["paths"].items()
        for method, operation in methods.items()
    ]


class Schemas:
    def __init__(self, document: dict[str, Any]) -> None:
        self.components = document.get("components", {}).get("schemas", {})

    def resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in schema:
            schema = self.components[schema["$ref"].rsplit("/", 1)[-1]]
        return schema

    def strategy(self, schema: dict[str, Any]) -> st.SearchStrategy[Any]:
        schema = self.resolve(schema)
        if "const" in schema:
            return st.just(schema["const"])
        if "enum" in schema:
            return st.sampled_from(schema["enum"])
        for key in ("anyOf", "oneOf"):
            if key in schema:
                return st.one_of([self.strategy(option) for option in schema[key]])
        kind = schema.get("type")
        if isinstance(kind, list):
            return st.one_of([self.strategy({**schema, "type": k}) for k in kind])
        if kind == "null":
            return st.none()
        if kind == "boolean":
            return st.booleans()
        if kind == "integer":
            return st.integers(schema.get("minimum"), schema.get("maximum"))
        if kind == "number":
            low = schema.get("minimum", schema.get("exclusiveMinimum"))
            high = schema.get("maximum", schema.get("exclusiveMaximum"))
            return st.integers(
                None if low is None else int(low), None if high is None else int(high) - 1
            ) | st.floats(low, high, allow_nan=False, exclude_max="exclusiveMaximum" in schema)
        if kind == "string":
            if schema.get("format") == "date":
                return st.dates().map(lambda d: d.isoformat())
            if schema.get("format") == "date-time":
                return st.datetimes(timezones=st.just(UTC)).map(lambda d: d.isoformat())
            return st.text(
                min_size=schema.get("minLength", 0), max_size=min(schema.get("maxLength", 30), 30)
            )
        if kind == "array":
            return st.lists(self.strategy(schema.get("items", {})), max_size=3)
        if kind == "object" or "properties" in schema:
            properties = schema.get("properties", {})
            required = set(schema.get("required", ()))
            return st.fixed_dictionaries(
                {name: self.strategy(s) for name, s in properties.items() if name in required},
                optional={
                    name: self.strategy(s) for name, s in properties.items() if name not in required
                },
            )
        return JSON


def _query_value(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list):
        return [item for v in value for item in _query_value(v)]
    if isinstance(value, bool):
        return ["true" if value else "false"]
    return [str(value)]


@st.composite
def requests(draw: st.DrawFn, document: dict[str, Any], headers: dict[str, str]) -> Request:
    """One request to one of the document's operations; mostly well formed, sometimes not."""
    schemas = Schemas(document)
    operation = draw(st.sampled_from(operations(document)))
    url = operation.path
    params: list[tuple[str, str]] = []
    for parameter in operation.operation.get("parameters", []):
        schema = parameter["schema"]
        if parameter["in"] == "path":
            value = draw(st.integers(1, 4) | schemas.strategy(schema) | st.integers())
            url = url.replace("{" + parameter["name"] + "}", str(value))
        elif draw(st.booleans()):
            value = draw(schemas.strategy(schema) | st.text(max_size=10))
            params += [(parameter["name"], v) for v in _query_value(value)]
    if draw(st.integers(0, 9)) == 0:
        params.append((draw(st.text(min_size=1, max_size=8)), draw(st.text(max_size=8))))
    content = None
    body = operation.operation.get("requestBody")
    if body is not None:
        media = next(iter(body["content"]))
        if media == "application/json":
            schema = body["content"][media]["schema"]
            document_body = draw(schemas.strategy(schema) | JSON)
            content = json.dumps(document_body).encode()
            if draw(st.integers(0, 9)) == 0:
                content = draw(st.binary(max_size=40))
        else:
            content = draw(
                st.text(max_size=200).map(str.encode)
                | st.just(b"name,category,price,unit,description,stock,active\n").flatmap(
                    lambda head: st.text(max_size=80).map(lambda t: head + t.encode())
                )
                | st.binary(max_size=60)
            )
    return Request(operation.method, url, params, content, headers)

"""One API operation, declared once: its method and path, the pydantic models of its
query, body and answer, and its handler. The router (`routes.py`) serves it and the
OpenAPI document (`openapi.py`) describes it from the same declaration.

`serve` does what every operation shares, in this order: the key (401 first, before
anything about the request is judged), the path ids, the query, the body (400 when it
is not JSON, 422 naming each bad field), then one transaction on the shop's schema for
the handler. A handler that raises `ApiProblem` rolls its transaction back.
"""

from __future__ import annotations

import json
import types
import typing
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from chatcentral.api.auth import CHALLENGE, Caller, bearer, caller
from chatcentral.api.fields import BIGINT_MAX
from chatcentral.api.problems import (
    ApiProblem,
    FieldError,
    from_validation,
    invalid,
    malformed,
    not_found,
)
from chatcentral.config import Settings
from chatcentral.db.engine import TenantBinder
from chatcentral.media.store import Store

M = TypeVar("M", bound=BaseModel)
# Bodies larger than this are refused before they are parsed (a CSV of a few thousand
# products fits comfortably).
BODY_MAX = 2 * 1024 * 1024


@dataclass(frozen=True)
class Call:
    """What a handler gets: the caller, its shop's connection and the validated input."""

    caller: Caller
    conn: AsyncConnection  # bound to the shop's schema, inside the request's transaction
    path: Mapping[str, int]
    _query: BaseModel | None
    _body: BaseModel | None
    raw_body: bytes = b""
    settings: Settings | None = None  # the app's (keys to encrypt with, ...)
    store: Store | None = None  # where media are kept (links to them, product photos)
    content_type: str = ""  # of a non-JSON body (a product photo)

    def query(self, model: type[M]) -> M:
        assert isinstance(self._query, model)
        return self._query

    def body(self, model: type[M]) -> M:
        assert isinstance(self._body, model)
        return self._body


Handler = Callable[[Call], Awaitable[BaseModel | Response]]


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str  # Starlette form, ids as {name:int}
    handler: Handler
    summary: str
    tag: str
    response: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    body: type[BaseModel] | None = None
    status: int = 200
    # Problems this operation may answer besides those every operation of its kind may
    # (401; 422 with a query or body; 400 and 413 with a body): OpenAPI only.
    problems: tuple[int, ...] = ()
    # Non-JSON bodies (CSV import, a photo: any of several types) and answers (CSV
    # export), as media types.
    body_media: tuple[str, ...] = ()
    response_media: str | None = None
    description: str = ""
    body_max: int = BODY_MAX

    @property
    def operation_id(self) -> str:
        return self.handler.__name__


def list_fields(model: type[BaseModel]) -> frozenset[str]:
    """Query fields that take a list (given as repeated parameters: ?status=a&status=b)."""
    names = set()
    for name, info in model.model_fields.items():
        annotation = info.annotation
        args = typing.get_args(annotation)
        origin = typing.get_origin(annotation)
        if origin in (typing.Union, types.UnionType):
            origins = {typing.get_origin(arg) for arg in args}
        else:
            origins = {origin}
        if list in origins:
            names.add(info.alias or name)
    return frozenset(names)


def _query(request: Request, model: type[BaseModel]) -> BaseModel:
    lists = list_fields(model)
    values: dict[str, Any] = {}
    for key in request.query_params:
        found = request.query_params.getlist(key)
        values[key] = found if key in lists else found[-1]
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        raise from_validation(exc, "query") from None


def _path(request: Request) -> dict[str, int]:
    ids: dict[str, int] = {}
    for name, value in request.path_params.items():
        # The router only matched digits; an id beyond bigint names nothing of this shop.
        if not isinstance(value, int) or not 1 <= value <= BIGINT_MAX:
            raise not_found()
        ids[name] = value
    return ids


async def _raw(request: Request, limit: int) -> bytes | None:
    """The body, or None when it is larger than `limit` (reading stops there)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        return None
    chunks = bytearray()
    async for chunk in request.stream():
        chunks += chunk
        if len(chunks) > limit:
            return None
    return bytes(chunks)


def _body(raw: bytes, model: type[BaseModel]) -> BaseModel:
    if not raw.strip():
        raise invalid([FieldError(loc=["body"], message="a JSON body is required", type="missing")])
    try:
        document = json.loads(raw, parse_constant=_no_constant)
    except (ValueError, RecursionError) as exc:
        raise malformed(f"the body is not valid JSON: {_first_line(exc)}") from None
    try:
        return model.model_validate(document)
    except ValidationError as exc:
        raise from_validation(exc, "body") from None


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _first_line(exc: BaseException) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0][:200]


def serve(endpoint: Endpoint) -> Callable[[Request], Awaitable[Response]]:
    async def run(request: Request) -> Response:
        try:
            return await _serve(endpoint, request)
        except ApiProblem as problem:
            response = problem.response()
            if problem.problem.status == 401:
                response.headers.update(CHALLENGE)
            return response

    run.__name__ = endpoint.operation_id
    return run


async def _serve(endpoint: Endpoint, request: Request) -> Response:
    key = bearer(request)
    # The body is read before a connection is taken: a slow upload holds no connection.
    writes = endpoint.method in ("POST", "PUT", "PATCH")
    raw = await _raw(request, endpoint.body_max) if writes else b""
    engine: AsyncEngine = request.app.state.engine
    async with engine.begin() as raw_conn:
        who = await caller(raw_conn, key)
        path = _path(request)
        query = _query(request, endpoint.query) if endpoint.query is not None else None
        if raw is None:
            raise ApiProblem(
                413, "too-large", "Request body too large", f"at most {endpoint.body_max} bytes"
            )
        body = _body(raw, endpoint.body) if endpoint.body is not None else None
        conn = await TenantBinder.bind(raw_conn, who.shop.schema)
        state = request.app.state
        settings = getattr(state, "settings", None)
        store = getattr(state, "media_store", None)
        content_type = request.headers.get("content-type", "")
        call = Call(who, conn, path, query, body, raw, settings, store, content_type)
        result = await endpoint.handler(call)
    if isinstance(result, Response):
        return result
    return JSONResponse(result.model_dump(mode="json"), status_code=endpoint.status)

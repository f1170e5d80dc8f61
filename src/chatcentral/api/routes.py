"""The API's router, mounted at `/api/v1` by `app.py`.

A Starlette Router rather than an app of its own, so handlers see the main app's state
(its engine). Each path is one route taking every method, so an unknown method is a 405
problem and an unknown path a 404 problem (`application/problem+json`), never the
server's plain-text pages.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, Router
from starlette.types import Receive, Scope, Send

from chatcentral.api import customers, handoffs, openapi, orders, products, stats, webhooks
from chatcentral.api.endpoint import Endpoint, serve
from chatcentral.api.problems import ApiProblem, not_found

PREFIX = "/api/v1"
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]
ENDPOINTS: tuple[Endpoint, ...] = (
    *orders.ENDPOINTS,
    *products.ENDPOINTS,
    *handoffs.ENDPOINTS,
    *customers.ENDPOINTS,
    *stats.ENDPOINTS,
    *webhooks.ENDPOINTS,
)


def _dispatch(
    handlers: dict[str, Callable[[Request], Awaitable[Response]]],
) -> Callable[[Request], Awaitable[Response]]:
    async def dispatch(request: Request) -> Response:
        handler = handlers.get(request.method)
        if handler is None:
            allowed = ", ".join(sorted(handlers))
            response = ApiProblem(
                405, "method-not-allowed", "Method not allowed", f"allowed: {allowed}"
            ).response()
            response.headers["Allow"] = allowed
            return response
        return await handler(request)

    return dispatch


async def _unknown(scope: Scope, receive: Receive, send: Send) -> None:
    await not_found("no such API path").response()(scope, receive, send)


def router(endpoints: Iterable[Endpoint] = ENDPOINTS) -> Router:
    endpoints = tuple(endpoints)
    spec = openapi.document(endpoints, PREFIX)

    async def openapi_json(request: Request) -> Response:
        return JSONResponse(spec)

    by_path: dict[str, dict[str, Callable[[Request], Awaitable[Response]]]] = {}
    for endpoint in endpoints:
        by_path.setdefault(endpoint.path, {})[endpoint.method] = serve(endpoint)
    routes = [Route("/openapi.json", openapi_json, methods=["GET"])]
    routes += [
        Route(path, _dispatch(handlers), methods=METHODS) for path, handlers in by_path.items()
    ]
    return Router(routes=routes, default=_unknown)

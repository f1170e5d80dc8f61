"""Who is calling: `Authorization: Bearer <key>` → one shop, checked on the request's own
connection. Every refusal is the same 401 (missing, malformed, unknown or revoked key), so
the answer says nothing about which keys exist."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncConnection
from starlette.requests import Request

from chatcentral.api.keys import Principal, authenticate
from chatcentral.api.problems import outside_plan, unauthorized
from chatcentral.conversation.shop import Shop
from chatcentral.tenancy.directory import shop_by_id
from chatcentral.tenancy.plans import ADMIN_API, plan_with

CHALLENGE = {"WWW-Authenticate": 'Bearer realm="chatcentral"'}


@dataclass(frozen=True)
class Caller:
    principal: Principal
    shop: Shop


def bearer(request: Request) -> str:
    """The key in the Authorization header; 401 when there is none."""
    header = request.headers.get("authorization", "")
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise unauthorized("send the shop's API key as 'Authorization: Bearer <key>'")
    return key.strip()


async def caller(conn: AsyncConnection, key: str) -> Caller:
    principal = await authenticate(conn, key)
    if principal is None:
        raise unauthorized("the API key is unknown or revoked")
    shop = await shop_by_id(conn, principal.tenant_id)
    if shop is None:  # the key's shop was deleted under it
        raise unauthorized("the API key is unknown or revoked")
    if not shop.includes(ADMIN_API):
        raise outside_plan(ADMIN_API, await plan_with(conn, ADMIN_API))
    return Caller(principal, shop)

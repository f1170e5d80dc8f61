"""The admin API in process: the real app, two shops with a key each, and orders written
straight into each shop's tables (the conversation that makes them is tested elsewhere)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, text
from starlette.applications import Starlette

from chatcentral.api.keys import create_key
from chatcentral.phones import normalize_phone, wa_id_of
from tests.conftest import ProvisionedShop
from tests.support.plans import on_plan

BASE = "/api/v1"


@dataclass
class Api:
    """A client for one shop's key (and the other shop's, for cross-shop attempts)."""

    client: httpx.AsyncClient
    key: str
    other_key: str
    engine: Engine

    def _headers(self, key: str | None, extra: dict[str, str] | None) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return {**headers, **(extra or {})}

    async def get(self, path: str, *, key: str | None = "", **kw: Any) -> httpx.Response:
        headers = self._headers(self.key if key == "" else key, kw.pop("headers", None))
        return await self.client.get(BASE + path, headers=headers, **kw)

    async def post(self, path: str, *, key: str | None = "", **kw: Any) -> httpx.Response:
        headers = self._headers(self.key if key == "" else key, kw.pop("headers", None))
        return await self.client.post(BASE + path, headers=headers, **kw)

    async def patch(self, path: str, *, key: str | None = "", **kw: Any) -> httpx.Response:
        headers = self._headers(self.key if key == "" else key, kw.pop("headers", None))
        return await self.client.patch(BASE + path, headers=headers, **kw)

    async def request(
        self, method: str, path: str, *, key: str | None = "", **kw: Any
    ) -> httpx.Response:
        headers = self._headers(self.key if key == "" else key, kw.pop("headers", None))
        return await self.client.request(method, BASE + path, headers=headers, **kw)


@pytest.fixture
async def api(
    app_client: tuple[httpx.AsyncClient, Starlette],
    shops: dict[str, ProvisionedShop],
    sync_engine: Engine,
) -> AsyncIterator[Api]:
    """Keys of the grocery store (`api.key`) and of the water company (`api.other_key`)."""
    client, _ = app_client
    # The admin API is a Premium feature.
    on_plan(sync_engine, "premium")
    grocery = create_key(sync_engine, "tienda", "pos")
    water = create_key(sync_engine, "agua", "erp")
    yield Api(client, grocery.secret, water.secret, sync_engine)


def rows(engine: Engine, sql: str, **params: object) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return [tuple(row) for row in conn.execute(text(sql), params).all()]


def add_water_product_90000(engine: Engine) -> None:
    """The water company's product 90000: an id of another shop, for tests that the
    grocery store can neither see nor change it."""
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO tenant_agua.products (id, category_id, name, price, unit) "
                "SELECT 90000, min(id), 'Garrafón secreto', 99, 'GARRAFON' "
                "FROM tenant_agua.categories"
            )
        )


def add_customer(engine: Engine, schema: str, wa_id: str, name: str | None = "Ana López") -> int:
    """A customer as the webhook stores one: the number in its canonical form."""
    wa_id = wa_id_of(normalize_phone(wa_id))
    with engine.begin() as conn:
        return int(
            conn.execute(
                text(
                    f"INSERT INTO {schema}.customers (wa_id, name, last_inbound_at) "
                    "VALUES (:wa_id, :name, now()) RETURNING id"
                ),
                {"wa_id": wa_id, "name": name},
            ).scalar_one()
        )


def add_order(
    engine: Engine,
    schema: str,
    customer_id: int,
    *,
    status: str = "pendiente",
    created_at: datetime | None = None,
    total: Decimal = Decimal("135.00"),
) -> int:
    """An order of three detergents, with its first history row, as placement writes it."""
    with engine.begin() as conn:
        status_id = conn.execute(
            text(f"SELECT id FROM {schema}.order_status WHERE code = :c"), {"c": status}
        ).scalar_one()
        order_id = int(
            conn.execute(
                text(
                    f"INSERT INTO {schema}.orders (customer_id, status_id, fulfillment, "
                    "address_text, subtotal, total, payment_method, notes, created_at) "
                    "VALUES (:c, :s, 'delivery', 'Calle 5 #10', :t, :t, 'cash', 'sin cebolla', "
                    "coalesce(:at, now())) RETURNING id"
                ),
                {"c": customer_id, "s": status_id, "t": total, "at": created_at},
            ).scalar_one()
        )
        conn.execute(
            text(
                f"INSERT INTO {schema}.order_items (order_id, product_name, unit, quantity, "
                "unit_price, line_total) VALUES (:o, 'Detergente en polvo 1 kg', 'PIECE', 3, "
                "45, 135)"
            ),
            {"o": order_id},
        )
        conn.execute(
            text(
                f"INSERT INTO {schema}.order_history (order_id, status_id, changed_by) "
                "VALUES (:o, :s, 'customer')"
            ),
            {"o": order_id, "s": status_id},
        )
    return order_id


def days_ago(days: int) -> datetime:
    from datetime import UTC

    return datetime.now(UTC) - timedelta(days=days)


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status and body["type"].startswith("https://") and body["title"]
    return body

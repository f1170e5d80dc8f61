"""Per-day numbers: days in the shop's time zone, orders and revenue, the funnel and
abandoned carts, from rows written with known timestamps."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Engine, text

from tests.conftest import ProvisionedShop
from tests.db.api.conftest import Api, add_customer, add_order, assert_problem

SCHEMA = "tenant_tienda"  # America/Mexico_City: UTC-6 all year


def message(engine: Engine, customer: int, direction: str, at: str) -> None:
    with engine.begin() as conn:
        conn.execute(
            text(
                f"INSERT INTO {SCHEMA}.messages (customer_id, direction, type, body, status, "
                "created_at) VALUES (:c, :d, 'text', '{}', 'received', :at)"
            ),
            {"c": customer, "d": direction, "at": at},
        )


def session(engine: Engine, customer: int, context: dict[str, object], at: str) -> None:
    with engine.begin() as conn:
        conn.execute(
            text(
                f"INSERT INTO {SCHEMA}.customer_sessions (customer_id, state, context, updated_at) "
                "VALUES (:c, 'cart', CAST(:ctx AS jsonb), :at)"
            ),
            {"c": customer, "ctx": json.dumps(context), "at": at},
        )


async def test_days_in_the_shops_time_zone_with_orders_funnel_and_carts(
    api: Api, shops: dict[str, ProvisionedShop], sync_engine: Engine
) -> None:
    ana = add_customer(sync_engine, SCHEMA, "5215500000001", name="Ana")
    luis = add_customer(sync_engine, SCHEMA, "5215500000002", name="Luis")
    eva = add_customer(sync_engine, SCHEMA, "5215500000003", name="Eva")
    with sync_engine.begin() as conn:
        conn.execute(
            text(f"UPDATE {SCHEMA}.customers SET created_at = '2026-03-10T12:00:00Z'"),
        )
    # 23:30 on the 10th in Mexico City is 05:30 on the 11th in UTC.
    message(sync_engine, ana, "in", "2026-03-11T05:30:00Z")
    message(sync_engine, ana, "out", "2026-03-11T05:30:01Z")
    message(sync_engine, luis, "in", "2026-03-11T18:00:00Z")
    message(sync_engine, luis, "in", "2026-03-11T18:01:00Z")
    message(sync_engine, eva, "in", "2026-03-11T19:00:00Z")
    add_order(
        sync_engine, SCHEMA, ana, created_at=datetime.fromisoformat("2026-03-11T05:40:00Z")
    )  # the 10th
    add_order(
        sync_engine,
        SCHEMA,
        luis,
        status="entregado",
        created_at=datetime.fromisoformat("2026-03-11T18:05:00Z"),
    )
    add_order(
        sync_engine,
        SCHEMA,
        luis,
        status="cancelado",
        total=Decimal("99.00"),
        created_at=datetime.fromisoformat("2026-03-11T18:10:00Z"),
    )
    item = {"product_id": 1, "name": "x", "unit": "PIECE", "price": "1", "quantity": "1"}
    session(sync_engine, eva, {"cart": [item]}, "2026-03-11T19:05:00Z")  # left with a cart
    session(sync_engine, ana, {"cart": []}, "2026-03-11T05:41:00Z")  # ordered: cart emptied

    response = await api.get("/stats", params={"since": "2026-03-10", "until": "2026-03-12"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["timezone"] == "America/Mexico_City" and body["currency"] == "MXN"
    tenth, eleventh, twelfth = body["days"]
    assert tenth == {
        "date": "2026-03-10",
        "messages_in": 1,
        "messages_out": 1,
        "conversations": 1,
        "new_customers": 3,
        "orders": 1,
        "cancelled": 0,
        "revenue": "135.00",
        "funnel": {"wrote": 1, "ordered": 1, "confirmed": 0, "delivered": 0},
        "abandoned_carts": 0,
    }
    assert eleventh == {
        "date": "2026-03-11",
        "messages_in": 3,
        "messages_out": 0,
        "conversations": 2,
        "new_customers": 0,
        "orders": 2,
        "cancelled": 1,
        "revenue": "135.00",
        "funnel": {"wrote": 2, "ordered": 1, "confirmed": 1, "delivered": 1},
        "abandoned_carts": 1,
    }
    assert twelfth["orders"] == 0 and twelfth["revenue"] == "0.00"
    # The other shop's numbers are its own.
    theirs = await api.get(
        "/stats", params={"since": "2026-03-10", "until": "2026-03-12"}, key=api.other_key
    )
    assert all(day["orders"] == 0 and day["messages_in"] == 0 for day in theirs.json()["days"])


async def test_the_default_is_the_last_seven_days_and_bad_ranges_are_422(
    api: Api, shops: dict[str, ProvisionedShop]
) -> None:
    days = (await api.get("/stats")).json()["days"]
    assert len(days) == 7
    for params, loc in (
        ({"since": "2026-03-12", "until": "2026-03-10"}, ["query"]),
        ({"since": "2026-01-01", "until": "2026-12-31"}, ["query"]),
        ({"since": "ayer"}, ["query", "since"]),
        ({"since": "9999-12-31"}, ["query", "since"]),
        ({"until": "0001-01-01"}, ["query", "until"]),
    ):
        problem = assert_problem(await api.get("/stats", params=params), 422)
        assert [e["loc"] for e in problem["errors"]] == [loc], problem

"""Message limits through the real webhook: a customer past the shop's per-minute limit
gets one notice and then silence (everything stored), answered again once the window
passes; past the plan's monthly quota customers get a polite answer and the admins are
told once; admins are never limited."""

from __future__ import annotations

import json

from sqlalchemy import Engine, text

from tests.conftest import ProvisionedShop
from tests.db.test_dispatcher import Client
from tests.support.conversation import Customer


def set_shop(engine: Engine, shop_id: int, **settings: object) -> None:
    with engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE central.tenants SET settings = settings || CAST(:s AS jsonb) WHERE id = :id"
            ),
            {"s": json.dumps(settings), "id": shop_id},
        )


def inbound_count(engine: Engine, schema: str) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                text(f"SELECT count(*) FROM {schema}.messages WHERE direction = 'in'")
            ).scalar_one()
        )


async def test_past_the_rate_limit_one_notice_then_stored_unanswered_until_the_minute_passes(
    app_client: Client, shops: dict[str, ProvisionedShop], sync_engine: Engine
) -> None:
    grocery = shops["grocery"]
    set_shop(sync_engine, grocery.id, rate_limit_per_minute=3)
    client, _ = app_client
    ana = Customer(client, sync_engine, grocery.phone_number_id)
    for word in ("hola", "1", "menú"):
        assert await ana.says(word)  # answered by the flow
    notice = await ana.says("hola?")
    assert len(notice) == 1 and "Espera un minuto" in notice[0]["text"]["body"]
    assert await ana.says("¿hola??") == []  # stored, not answered
    assert await ana.says("!!!") == []
    assert inbound_count(sync_engine, grocery.schema) == 6  # nothing dropped
    # The minute passes: answered by the flow again.
    with sync_engine.begin() as conn:
        conn.execute(
            text(
                f"UPDATE {grocery.schema}.customer_sessions "
                "SET window_started_at = window_started_at - interval '61 seconds'"
            )
        )
    again = await ana.says("menú")
    assert again and "Espera un minuto" not in json.dumps(again, ensure_ascii=False)


async def test_past_the_monthly_quota_a_polite_answer_and_the_admins_told_once(
    app_client: Client, shops: dict[str, ProvisionedShop], sync_engine: Engine
) -> None:
    grocery = shops["grocery"]
    with sync_engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE central.plans SET monthly_message_quota = 2 "
                "WHERE id = (SELECT plan_id FROM central.tenants WHERE id = :id)"
            ),
            {"id": grocery.id},
        )
    client, _ = app_client
    ana = Customer(client, sync_engine, grocery.phone_number_id)
    luis = Customer(client, sync_engine, grocery.phone_number_id, wa_id="5215598765432")
    assert len(await ana.says("hola")) == 1 and len(await luis.says("hola")) == 1
    for customer in (ana, luis, ana):
        [answer] = await customer.says("menú")
        assert "no podemos atenderte" in answer["text"]["body"]
    with sync_engine.connect() as conn:
        told = conn.execute(
            text("SELECT payload FROM central.outbox WHERE kind = 'notification'")
        ).scalars()
        bodies = [payload["text"]["body"] for payload in told]
        used = conn.execute(
            text("SELECT inbound_messages FROM central.monthly_usage WHERE tenant_id = :id"),
            {"id": grocery.id},
        ).scalar_one()
    assert len(bodies) == 1 and "límite de mensajes" in bodies[0]  # one admin, told once
    assert used == 5


async def test_admins_are_not_limited(
    app_client: Client, shops: dict[str, ProvisionedShop], sync_engine: Engine
) -> None:
    grocery = shops["grocery"]
    set_shop(sync_engine, grocery.id, rate_limit_per_minute=1)
    with sync_engine.connect() as conn:
        [admin] = conn.execute(
            text("SELECT admin_phones FROM central.tenants WHERE id = :id"), {"id": grocery.id}
        ).scalar_one()
    client, _ = app_client
    boss = Customer(client, sync_engine, grocery.phone_number_id, wa_id=admin.lstrip("+"))
    for word in ("pedidos", "menú", "pedidos"):
        replies = await boss.says(word)
        assert replies and "Espera un minuto" not in json.dumps(replies, ensure_ascii=False)


async def test_taps_on_the_bots_own_options_are_never_limited(
    app_client: Client, shops: dict[str, ProvisionedShop], sync_engine: Engine
) -> None:
    grocery = shops["grocery"]
    set_shop(sync_engine, grocery.id, rate_limit_per_minute=1)
    client, _ = app_client
    ana = Customer(client, sync_engine, grocery.phone_number_id)
    await ana.says("hola")  # the one typed message the minute allows
    for _ in range(3):  # a quick customer: tap, tap, tap... (7 s apart: all in the minute)
        replies = await ana.taps(1)
        assert replies and "Espera un minuto" not in json.dumps(replies, ensure_ascii=False)
    notice = await ana.says("hola otra vez")  # typing again is counted
    assert "Espera un minuto" in notice[0]["text"]["body"]

"""POST/GET /webhook through the real app and a real PostgreSQL."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
from sqlalchemy import Engine, select, text
from starlette.applications import Starlette

from chatcentral.models.central import Outbox, UnhandledUpdate
from tests.conftest import ProvisionedShop
from tests.support import cloud

Client = tuple[httpx.AsyncClient, Starlette]


async def post(client: httpx.AsyncClient, body: dict[str, object] | bytes) -> httpx.Response:
    raw, headers = cloud.signed(body)
    return await client.post("/webhook", content=raw, headers=headers)


def count(engine: Engine, sql: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(sql)).scalar_one())


# --- handshake -------------------------------------------------------------------------


async def test_handshake_echoes_the_challenge(app_client: Client) -> None:
    client, _ = app_client
    params = {
        "hub.mode": "subscribe",
        "hub.verify_token": "test-verify-token",
        "hub.challenge": "1158201444",
    }
    response = await client.get("/webhook", params=params)
    assert response.status_code == 200
    assert response.text == "1158201444"
    assert response.headers["content-type"].startswith("text/plain")


@pytest.mark.parametrize(
    "params",
    [
        {"hub.mode": "subscribe", "hub.verify_token": "wrong", "hub.challenge": "1"},
        {"hub.mode": "unsubscribe", "hub.verify_token": "test-verify-token", "hub.challenge": "1"},
        {"hub.challenge": "1"},
        {},
    ],
)
async def test_handshake_refuses_anything_else(app_client: Client, params: dict[str, str]) -> None:
    client, _ = app_client
    response = await client.get("/webhook", params=params)
    assert response.status_code == 403
    assert "1" not in response.text


# --- signature and malformed bodies ------------------------------------------------------


async def test_missing_or_wrong_signature_is_401_and_nothing_is_stored(
    app_client: Client, shops: dict[str, ProvisionedShop], sync_engine: Engine
) -> None:
    client, _ = app_client
    body = json.dumps(cloud.message_from("1110001", "5215512345678", "hola")).encode()
    missing = await client.post("/webhook", content=body)
    wrong_secret = await client.post(
        "/webhook", content=body, headers=cloud.signed(body, secret="another-secret")[1]
    )
    _, headers = cloud.signed(body)
    tampered = await client.post("/webhook", content=body + b" ", headers=headers)
    garbage = await client.post(
        "/webhook", content=body, headers={"X-Hub-Signature-256": "sha256=zz"}
    )
    assert [r.status_code for r in (missing, wrong_secret, tampered, garbage)] == [401] * 4
    assert count(sync_engine, "SELECT count(*) FROM tenant_tienda.messages") == 0
    assert count(sync_engine, "SELECT count(*) FROM tenant_tienda.customers") == 0
    assert count(sync_engine, "SELECT count(*) FROM central.outbox") == 0


@pytest.mark.parametrize(
    "body",
    [
        b'{"object": "whatsapp_business_account", "entry": [{"changes": [',  # truncated
        b"not json at all",
        b"[1, 2, 3]",
        b'{"object": "page", "entry": []}',
        b'{"object": "whatsapp_business_account", "entry": "many"}',
        b'{"object": "whatsapp_business_account", "entry": [{"changes": [{"field": 7}]}]}',
        b"\xff\xfe\x00",
        b"",
    ],
)
async def test_malformed_bodies_are_400_never_500(app_client: Client, body: bytes) -> None:
    client, _ = app_client
    response = await post(client, body)
    assert response.status_code == 400


async def test_an_8_mib_body_is_413(app_client: Client) -> None:
    client, _ = app_client
    body = (
        b'{"object": "whatsapp_business_account", "entry": [], "pad": "'
        + b"x" * (8 * 1024 * 1024)
        + b'"}'
    )
    response = await post(client, body)
    assert response.status_code == 413


async def test_wrong_types_inside_a_valid_envelope_are_recorded_not_500(
    app_client: Client, shops: dict[str, ProvisionedShop], sync_engine: Engine
) -> None:
    client, _ = app_client
    body = cloud.envelope(
        cloud.change(
            "1110001",
            messages=[
                {"id": "wamid.BAD1", "from": "525512345678", "timestamp": "ayer", "type": "text"},
                {"from": "525512345678", "timestamp": "1", "type": "text", "text": {"body": "x"}},
                {
                    "id": "wamid.BAD3",
                    "from": "525512345678",
                    "timestamp": "1",
                    "type": "text",
                    "text": "should be an object",
                },
            ],
            statuses=[{"status": "read"}],
        ),
        {"field": "messages", "value": {"metadata": "nope"}},
    )
    response = await post(client, body)
    assert response.status_code == 200
    with sync_engine.connect() as conn:
        reasons = conn.execute(select(UnhandledUpdate.reason)).scalars().all()
    assert sum(r.startswith("invalid message") for r in reasons) == 3
    assert sum(r.startswith("invalid status") for r in reasons) == 1
    assert sum(r.startswith("invalid change") for r in reasons) == 1


# --- exactly once ------------------------------------------------------------------------


async def test_the_same_webhook_five_times_is_handled_once(
    app_client: Client, shops: dict[str, ProvisionedShop], sync_engine: Engine
) -> None:
    client, _ = app_client
    body = cloud.message_from("1110001", "5215512345678", "hola", id="wamid.SAME")
    sequential = [await post(client, body) for _ in range(2)]
    concurrent = await asyncio.gather(*(post(client, body) for _ in range(3)))
    assert [r.status_code for r in [*sequential, *concurrent]] == [200] * 5
    assert (
        count(sync_engine, "SELECT count(*) FROM tenant_tienda.messages WHERE direction='in'") == 1
    )
    assert count(sync_engine, "SELECT count(*) FROM tenant_tienda.customers") == 1
    replies = count(
        sync_engine, "SELECT count(*) FROM tenant_tienda.messages WHERE direction='out'"
    )
    assert replies == 1
    assert count(sync_engine, "SELECT count(*) FROM central.outbox WHERE kind='message'") == 1


async def test_concurrent_distinct_messages_of_one_customer_are_all_handled(
    app_client: Client, shops: dict[str, ProvisionedShop], sync_engine: Engine
) -> None:
    client, _ = app_client
    bodies = [
        cloud.message_from("1110001", "525512345678", f"mensaje {i}", ts=1_760_000_000 + i)
        for i in range(6)
    ]
    responses = await asyncio.gather(*(post(client, body) for body in bodies))
    assert {r.status_code for r in responses} == {200}
    assert count(sync_engine, "SELECT count(*) FROM tenant_tienda.customers") == 1
    assert (
        count(sync_engine, "SELECT count(*) FROM tenant_tienda.messages WHERE direction='in'") == 6
    )
    # Each handled message moved the session version exactly once (serialised by the lock).
    assert (
        count(sync_engine, "SELECT version FROM tenant_tienda.customer_sessions")
        + count(sync_engine, "SELECT count(*) FROM tenant_tienda.messages WHERE status='stale'")
        == 6
    )


async def test_three_entries_of_two_messages_are_all_handled(
    app_client: Client, shops: dict[str, ProvisionedShop], sync_engine: Engine
) -> None:
    client, _ = app_client
    changes = []
    for entry in range(3):
        senders = [f"52551000{entry}{i}00" for i in range(2)]
        changes.append(
            cloud.change(
                "1110001",
                contacts=[cloud.contact(s, f"Cliente {s}") for s in senders],
                messages=[cloud.text(s, "hola") for s in senders],
            )
        )
    body = {
        "object": "whatsapp_business_account",
        "entry": [{"id": "1", "changes": [c]} for c in changes],
    }
    response = await post(client, body)
    assert response.status_code == 200
    assert (
        count(sync_engine, "SELECT count(*) FROM tenant_tienda.messages WHERE direction='in'") == 6
    )
    assert count(sync_engine, "SELECT count(*) FROM tenant_tienda.customers") == 6
    assert count(sync_engine, "SELECT count(*) FROM central.outbox WHERE kind='message'") == 6


async def test_an_older_message_is_recorded_but_does_not_move_the_state(
    app_client: Client, shops: dict[str, ProvisionedShop], sync_engine: Engine
) -> None:
    client, _ = app_client
    await post(client, cloud.message_from("1110001", "525512345678", "nuevo", ts=1_760_000_500))
    await post(client, cloud.message_from("1110001", "525512345678", "viejo", ts=1_760_000_100))
    with sync_engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT body->'text'->>'body', status FROM tenant_tienda.messages "
                "WHERE direction='in' ORDER BY id"
            )
        ).all()
        version = conn.execute(text("SELECT version FROM tenant_tienda.customer_sessions")).scalar()
    assert [tuple(r) for r in rows] == [("nuevo", "received"), ("viejo", "stale")]
    assert version == 1


# --- tenants -----------------------------------------------------------------------------


async def test_two_shops_on_two_numbers_never_see_each_others_customers(
    app_client: Client, shops: dict[str, ProvisionedShop], sync_engine: Engine
) -> None:
    client, _ = app_client
    await post(client, cloud.message_from("1110001", "525511111111", "hola tienda"))
    await post(client, cloud.message_from("2220002", "525522222222", "hola agua"))
    await post(client, cloud.message_from("2220002", "525511111111", "también agua"))
    with sync_engine.connect() as conn:
        tienda = conn.execute(text("SELECT wa_id FROM tenant_tienda.customers")).scalars().all()
        agua = (
            conn.execute(text("SELECT wa_id FROM tenant_agua.customers ORDER BY id"))
            .scalars()
            .all()
        )
        outbox = conn.execute(
            select(Outbox.tenant_id, Outbox.recipient).where(Outbox.kind == "message")
        ).all()
    assert tienda == ["525511111111"]
    assert agua == ["525522222222", "525511111111"]
    by_tenant = {(t, r) for t, r in outbox}
    assert by_tenant == {
        (shops["grocery"].id, "525511111111"),
        (shops["water"].id, "525522222222"),
        (shops["water"].id, "525511111111"),
    }


async def test_unknown_and_inactive_numbers_are_acknowledged_and_ignored(
    app_client: Client, shops: dict[str, ProvisionedShop], sync_engine: Engine
) -> None:
    from chatcentral.tenancy.registry import set_active

    client, app = app_client
    unknown = await post(client, cloud.message_from("999999999", "525512345678", "hola"))
    set_active(sync_engine, "agua", False)
    app.state.directory.invalidate()  # the NOTIFY does this in production; don't race it here
    inactive = await post(client, cloud.message_from("2220002", "525512345678", "hola"))
    assert unknown.status_code == inactive.status_code == 200
    assert count(sync_engine, "SELECT count(*) FROM tenant_agua.messages") == 0
    assert count(sync_engine, "SELECT count(*) FROM central.outbox") == 0


async def test_other_webhook_fields_are_stored_raw_and_acknowledged(
    app_client: Client, sync_engine: Engine
) -> None:
    client, _ = app_client
    body = {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "1",
                "changes": [
                    {"field": "account_update", "value": {"event": "ACCOUNT_VIOLATION"}},
                    {"field": "message_template_status_update", "value": {"event": "APPROVED"}},
                ],
            }
        ],
    }
    response = await post(client, body)
    assert response.status_code == 200
    with sync_engine.connect() as conn:
        rows = conn.execute(select(UnhandledUpdate.field, UnhandledUpdate.payload)).all()
    assert {r.field for r in rows} == {"account_update", "message_template_status_update"}
    assert {"event": "ACCOUNT_VIOLATION"} in [r.payload for r in rows]


# --- identity ----------------------------------------------------------------------------


async def test_bsuid_only_customers_are_answered_by_recipient_and_linked_later(
    app_client: Client, shops: dict[str, ProvisionedShop], sync_engine: Engine
) -> None:
    client, _ = app_client
    bsuid = "MX.13491208655302741918"
    username_only = cloud.envelope(
        cloud.change(
            "1110001",
            contacts=[cloud.contact(None, "Usuaria", user_id=bsuid)],
            messages=[cloud.text("", "hola", user_id=bsuid)],
        )
    )
    assert (await post(client, username_only)).status_code == 200
    with sync_engine.connect() as conn:
        payload = conn.execute(select(Outbox.payload).where(Outbox.kind == "message")).scalar_one()
    assert payload["recipient"] == bsuid and "to" not in payload

    both = cloud.envelope(
        cloud.change(
            "1110001",
            contacts=[cloud.contact("5215512345678", "Usuaria", user_id=bsuid)],
            messages=[cloud.text("5215512345678", "ya con teléfono", user_id=bsuid)],
        )
    )
    assert (await post(client, both)).status_code == 200
    with sync_engine.connect() as conn:
        customers = conn.execute(
            text("SELECT wa_id, bsuid, name FROM tenant_tienda.customers")
        ).all()
    assert [tuple(c) for c in customers] == [("525512345678", bsuid, "Usuaria")]


async def test_mexican_521_and_52_forms_are_one_customer(
    app_client: Client, shops: dict[str, ProvisionedShop], sync_engine: Engine
) -> None:
    client, _ = app_client
    await post(client, cloud.message_from("1110001", "5215512345678", "uno"))
    await post(client, cloud.message_from("1110001", "525512345678", "dos"))
    assert count(sync_engine, "SELECT count(*) FROM tenant_tienda.customers") == 1


async def test_metrics_are_exposed(app_client: Client, shops: dict[str, ProvisionedShop]) -> None:
    client, _ = app_client
    await post(client, cloud.message_from("1110001", "525512345678", "hola"))
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert 'chatcentral_webhook_requests_total{outcome="200"}' in response.text
    assert "chatcentral_inbound_messages_total" in response.text


async def test_nul_characters_are_kept_visible_not_crashing_postgres(
    app_client: Client, shops: dict[str, ProvisionedShop], sync_engine: Engine
) -> None:
    client, _ = app_client
    response = await post(client, cloud.message_from("1110001", "525512345678", "ho\x00la"))
    assert response.status_code == 200
    with sync_engine.connect() as conn:
        body = conn.execute(
            text("SELECT body->'text'->>'body' FROM tenant_tienda.messages WHERE direction='in'")
        ).scalar_one()
    assert body == "ho\ufffdla"


async def test_a_deactivated_shop_is_dropped_from_the_cache_by_notify(
    app_client: Client, shops: dict[str, ProvisionedShop], sync_engine: Engine
) -> None:
    from chatcentral.tenancy.registry import set_active

    client, app = app_client
    await app.state.listener.connected.wait()
    assert (await post(client, cloud.message_from("2220002", "525500000001", "hola"))).is_success
    set_active(sync_engine, "agua", False)  # cached for 30 s unless the NOTIFY arrives
    ignored = False
    for attempt in range(40):
        before = count(sync_engine, "SELECT count(*) FROM tenant_agua.messages")
        await post(client, cloud.message_from("2220002", f"5255000001{attempt:02d}", "hola"))
        if count(sync_engine, "SELECT count(*) FROM tenant_agua.messages") == before:
            ignored = True
            break
        await asyncio.sleep(0.05)
    assert ignored


async def test_a_big_batch_keeps_each_customers_messages_in_order(
    app_client: Client, shops: dict[str, ProvisionedShop], sync_engine: Engine
) -> None:
    client, _ = app_client
    customers = [f"52551230{n:04d}" for n in range(10)]
    messages = [
        cloud.text(wa_id, f"mensaje {turn}", ts=1_760_000_000 + turn)
        for turn in (3, 1, 0, 2)  # each customer's four messages arrive shuffled
        for wa_id in customers
    ]
    body = cloud.envelope(
        cloud.change("1110001", contacts=[cloud.contact(c) for c in customers], messages=messages)
    )
    assert (await post(client, body)).status_code == 200
    with sync_engine.connect() as conn:
        versions = (
            conn.execute(text("SELECT version FROM tenant_tienda.customer_sessions"))
            .scalars()
            .all()
        )
        statuses = (
            conn.execute(
                text("SELECT DISTINCT status FROM tenant_tienda.messages WHERE direction = 'in'")
            )
            .scalars()
            .all()
        )
    assert sorted(versions) == [4] * 10  # every message handled, none left behind as stale
    assert statuses == ["received"]

"""Faults on the webhook path, through the signed POST /webhook of the real app.

A database outage is 503 with nothing acknowledged; a poison item is recorded as
unhandled while the others in its body are handled; text PostgreSQL refuses (lone
surrogates, NUL) is made storable so the message is answered like any other.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import Engine, select, text
from starlette.applications import Starlette

from chatcentral.config import Settings
from chatcentral.db.engine import make_engine
from chatcentral.models.central import UnhandledUpdate
from tests.conftest import ProvisionedShop
from tests.support import cloud
from tests.support.dbproxy import DatabaseProxy

Client = tuple[httpx.AsyncClient, Starlette]
CUSTOMER = "525512345678"


async def post(client: httpx.AsyncClient, body: dict[str, Any] | bytes) -> httpx.Response:
    raw, headers = cloud.signed(body)
    return await client.post("/webhook", content=raw, headers=headers)


def scalar(engine: Engine, sql: str, **params: Any) -> Any:
    with engine.connect() as conn:
        return conn.execute(text(sql), params).scalar_one()


def unhandled(engine: Engine) -> list[tuple[str, str, dict[str, Any]]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(UnhandledUpdate.field, UnhandledUpdate.reason, UnhandledUpdate.payload)
        ).all()
    return [(r.field, r.reason, r.payload) for r in rows]


@pytest.fixture
async def proxied_client(
    settings: Settings, db_proxy: DatabaseProxy
) -> AsyncIterator[tuple[httpx.AsyncClient, Starlette]]:
    """The real app whose every connection goes through a proxy the test can cut."""
    from chatcentral.app import create_app

    engine = make_engine(db_proxy.url)
    app = create_app(settings, engine=engine, dispatcher=False)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client, app
    await engine.dispose()


# --- a database outage ----------------------------------------------------------------


@pytest.mark.parametrize("cached", [True, False], ids=["shop-cached", "shop-not-cached"])
async def test_an_outage_is_503_and_the_retry_is_handled_once(
    proxied_client: Client,
    db_proxy: DatabaseProxy,
    shops: dict[str, ProvisionedShop],
    sync_engine: Engine,
    cached: bool,
) -> None:
    client, app = proxied_client
    # A pooled connection exists either way, so the outage also resets open connections.
    warm = await post(client, cloud.message_from("1110001", "525500000001", "hola"))
    assert warm.status_code == 200
    if not cached:
        app.state.directory.invalidate()
    body = cloud.message_from("1110001", CUSTOMER, "hola", id="wamid.OUTAGE")
    others = [
        cloud.envelope(cloud.change("1110001", statuses=[cloud.status("wamid.X", "read")])),
        cloud.envelope({"field": "account_update", "value": {"event": "DISABLED_UPDATE"}}),
    ]

    db_proxy.cut()
    during = [await post(client, b) for b in [body, body, *others]]
    assert [r.status_code for r in during] == [503] * 4
    db_proxy.restore()

    after = await post(client, body)
    assert after.status_code == 200
    assert (await post(client, body)).status_code == 200  # a late duplicate does nothing
    assert (
        scalar(
            sync_engine,
            "SELECT count(*) FROM tenant_tienda.messages WHERE wamid = :w",
            w="wamid.OUTAGE",
        )
        == 1
    )
    customer = "SELECT id FROM tenant_tienda.customers WHERE wa_id = :c"
    assert (
        scalar(
            sync_engine,
            f"SELECT version FROM tenant_tienda.customer_sessions WHERE customer_id = ({customer})",
            c=CUSTOMER,
        )
        == 1
    )
    replies = scalar(
        sync_engine,
        "SELECT count(*) FROM central.outbox WHERE recipient = :c AND kind = 'message'",
        c=CUSTOMER,
    )
    warm_replies = scalar(
        sync_engine,
        "SELECT count(*) FROM central.outbox WHERE recipient = '525500000001' AND kind = 'message'",
    )
    assert replies == warm_replies > 0  # the same first message, answered once
    assert unhandled(sync_engine) == []


async def test_concurrent_customers_during_an_outage_are_all_503(
    proxied_client: Client,
    db_proxy: DatabaseProxy,
    shops: dict[str, ProvisionedShop],
    sync_engine: Engine,
) -> None:
    client, _ = proxied_client
    assert (await post(client, cloud.message_from("1110001", "525500000001", "hola"))).is_success
    senders = [f"5255000010{n:02d}" for n in range(6)]
    batch = cloud.envelope(
        cloud.change(
            "1110001",
            contacts=[cloud.contact(s) for s in senders],
            messages=[cloud.text(s, "hola") for s in senders],
        )
    )
    db_proxy.cut()
    answers = await asyncio.gather(*(post(client, batch) for _ in range(3)))
    assert [r.status_code for r in answers] == [503] * 3
    db_proxy.restore()
    assert (await post(client, batch)).status_code == 200
    assert (
        scalar(sync_engine, "SELECT count(*) FROM tenant_tienda.messages WHERE direction='in'") == 7
    )
    assert unhandled(sync_engine) == []


# --- a poison message while the database is healthy ----------------------------------------


def _poison_inbound(engine: Engine, wamid: str, sqlstate: str) -> None:
    """Make the database itself refuse one message, as a bug or a corrupt row would."""
    with engine.begin() as conn:
        conn.execute(
            text(
                f"""
                CREATE FUNCTION tenant_tienda.refuse() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    IF NEW.wamid = '{wamid}' THEN
                        RAISE EXCEPTION 'refused for the test' USING ERRCODE = '{sqlstate}';
                    END IF;
                    RETURN NEW;
                END $$;
                CREATE TRIGGER refuse BEFORE INSERT ON tenant_tienda.messages
                    FOR EACH ROW EXECUTE FUNCTION tenant_tienda.refuse();
                """
            )
        )


@pytest.mark.parametrize("sqlstate", ["22023", "XX000"], ids=["data", "unclear"])
async def test_a_poison_message_with_a_healthy_database_is_recorded_and_the_rest_handled(
    app_client: Client, shops: dict[str, ProvisionedShop], sync_engine: Engine, sqlstate: str
) -> None:
    client, _ = app_client
    _poison_inbound(sync_engine, "wamid.POISON", sqlstate)
    body = cloud.envelope(
        cloud.change(
            "1110001",
            contacts=[cloud.contact(CUSTOMER), cloud.contact("525500000002")],
            messages=[
                cloud.text(CUSTOMER, "hola", id="wamid.POISON"),
                cloud.text("525500000002", "hola", id="wamid.FINE"),
            ],
        )
    )
    assert (await post(client, body)).status_code == 200
    assert (
        scalar(sync_engine, "SELECT count(*) FROM tenant_tienda.messages WHERE direction='in'") == 1
    )
    [(field, reason, payload)] = unhandled(sync_engine)
    assert (field, payload["id"]) == ("messages", "wamid.POISON")
    assert reason.startswith("error:")


async def test_a_poison_message_whose_record_cannot_be_stored_is_503_not_500(
    app_client: Client, shops: dict[str, ProvisionedShop], sync_engine: Engine
) -> None:
    client, _ = app_client
    _poison_inbound(sync_engine, "wamid.POISON", "22023")
    with sync_engine.begin() as conn:
        conn.execute(
            text(
                "ALTER TABLE central.unhandled_updates "
                "ADD CONSTRAINT refuse CHECK (field <> 'messages') NOT VALID"
            )
        )
    body = cloud.message_from("1110001", CUSTOMER, "hola", id="wamid.POISON")
    assert (await post(client, body)).status_code == 503


# --- statuses: one bad item never sinks the batch -----------------------------------------


async def _an_answered_message(client: httpx.AsyncClient, engine: Engine) -> str:
    """Handle one message and give its first reply a wamid, as the dispatcher would."""
    assert (await post(client, cloud.message_from("1110001", CUSTOMER, "hola"))).is_success
    with engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE tenant_tienda.messages SET wamid = 'wamid.OUT', status = 'sent' "
                "WHERE id = (SELECT min(id) FROM tenant_tienda.messages WHERE direction = 'out')"
            )
        )
    return "wamid.OUT"


BAD_STATUSES = {
    "far-future-timestamp": (cloud.status("wamid.B", "read", ts=10**12), "timestamp"),
    "negative-timestamp": (cloud.status("wamid.B", "read", ts=-99999999999), "timestamp"),
    "64-bit-error-code": (cloud.status("wamid.B", "failed", error_code=2**40), "code"),
    "9000-char-id": (cloud.status("w" * 9000, "delivered"), "id"),
    "9000-char-status": (cloud.status("wamid.B", "s" * 9000), "status"),
}


@pytest.mark.parametrize("bad", BAD_STATUSES.values(), ids=BAD_STATUSES.keys())
async def test_one_bad_status_is_recorded_and_the_others_apply(
    app_client: Client,
    shops: dict[str, ProvisionedShop],
    sync_engine: Engine,
    bad: tuple[dict[str, Any], str],
) -> None:
    client, _ = app_client
    item, field = bad
    out = await _an_answered_message(client, sync_engine)
    body = cloud.envelope(
        cloud.change(
            "1110001",
            statuses=[
                cloud.status(out, "delivered"),
                item,
                cloud.status("wamid.NOT_YET_KNOWN", "sent"),
            ],
        )
    )
    assert (await post(client, body)).status_code == 200
    assert (
        scalar(sync_engine, "SELECT status FROM tenant_tienda.messages WHERE wamid = :w", w=out)
        == "delivered"
    )
    assert scalar(sync_engine, "SELECT count(*) FROM tenant_tienda.message_statuses") == 2
    [(kind, reason, payload)] = unhandled(sync_engine)
    assert kind == "statuses" and payload == item
    assert reason.startswith("invalid status") and field in reason


async def test_a_status_the_database_refuses_is_recorded_and_the_others_apply(
    app_client: Client, shops: dict[str, ProvisionedShop], sync_engine: Engine
) -> None:
    client, _ = app_client
    out = await _an_answered_message(client, sync_engine)
    with sync_engine.begin() as conn:
        conn.execute(
            text(
                "ALTER TABLE tenant_tienda.message_statuses "
                "ADD CONSTRAINT refuse CHECK (wamid <> 'wamid.POISON')"
            )
        )
    poison = cloud.status("wamid.POISON", "read")
    body = cloud.envelope(
        cloud.change(
            "1110001", statuses=[cloud.status(out, "read"), poison, cloud.status(out, "sent")]
        )
    )
    assert (await post(client, body)).status_code == 200
    assert (
        scalar(sync_engine, "SELECT status FROM tenant_tienda.messages WHERE wamid = :w", w=out)
        == "read"
    )
    assert scalar(sync_engine, "SELECT count(*) FROM tenant_tienda.message_statuses") == 2
    [(kind, reason, payload)] = unhandled(sync_engine)
    assert (kind, payload) == ("statuses", poison)
    assert reason.startswith("error:")


extreme_ints = (
    st.sampled_from(
        [0, -1, 2**31 - 1, 2**31, -(2**31), -(2**31) - 1, 2**63, -(2**63), 10**12, 10**30]
    )
    | st.integers()
)
long_text = st.text(max_size=8) | st.builds(
    lambda char, n: char * n, st.characters(codec="utf-8"), st.sampled_from([600, 3000, 9000])
)
status_items = st.fixed_dictionaries(
    {"id": long_text, "status": long_text | st.sampled_from(["sent", "delivered", "read"])},
    optional={
        "timestamp": extreme_ints | extreme_ints.map(str),
        "recipient_id": long_text,
        "errors": st.lists(st.fixed_dictionaries({"code": extreme_ints}), max_size=2),
    },
)


@hypothesis_settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(statuses=st.lists(status_items, min_size=1, max_size=4))
async def test_any_statuses_are_acknowledged_never_a_server_error(
    app_client: Client, shops: dict[str, ProvisionedShop], statuses: list[dict[str, Any]]
) -> None:
    client, _ = app_client
    response = await post(client, cloud.envelope(cloud.change("1110001", statuses=statuses)))
    assert response.status_code == 200


# --- text PostgreSQL cannot store --------------------------------------------------------------


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        ("a\ud800b", "a\ufffdb"),
        ("a\udc00b", "a\ufffdb"),
        ("ho\x00la \ud83d", "ho\ufffdla \ufffd"),
        ("ok \U0001f600", "ok \U0001f600"),  # a valid pair, escaped as Meta sends it
    ],
    ids=["lone-high", "lone-low", "nul-and-trailing-high", "valid-pair"],
)
async def test_text_postgres_refuses_is_made_storable_and_answered(
    app_client: Client,
    shops: dict[str, ProvisionedShop],
    sync_engine: Engine,
    sent: str,
    stored: str,
) -> None:
    client, _ = app_client
    body = cloud.message_from("1110001", CUSTOMER, sent)
    body["entry"][0]["changes"][0]["value"]["contacts"][0]["profile"]["name"] = sent
    raw = json.dumps(body).encode()  # ensure_ascii: every surrogate travels as a \u escape
    assert (await post(client, raw)).status_code == 200
    with sync_engine.connect() as conn:
        got = conn.execute(
            text("SELECT body->'text'->>'body' FROM tenant_tienda.messages WHERE direction='in'")
        ).scalar_one()
        name = conn.execute(text("SELECT name FROM tenant_tienda.customers")).scalar_one()
        replies = conn.execute(
            text("SELECT count(*) FROM central.outbox WHERE kind = 'message' AND recipient = :c"),
            {"c": CUSTOMER},
        ).scalar_one()
    assert got == stored and name == stored
    assert replies > 0
    assert unhandled(sync_engine) == []


async def test_a_lone_surrogate_in_a_key_and_an_unhandled_field_is_stored(
    app_client: Client, sync_engine: Engine
) -> None:
    client, _ = app_client
    body = cloud.envelope({"field": "account_update", "value": {"k\udfff": "v\ud800", "n": "\x00"}})
    assert (await post(client, json.dumps(body).encode())).status_code == 200
    [(_, _, payload)] = unhandled(sync_engine)
    assert payload == {"k\ufffd": "v\ufffd", "n": "\ufffd"}


async def test_a_number_beyond_float_range_is_stored_not_refused(
    app_client: Client, shops: dict[str, ProvisionedShop], sync_engine: Engine
) -> None:
    client, _ = app_client
    message = cloud.text(CUSTOMER, "hola", id="wamid.HUGE")
    raw = json.dumps(cloud.envelope(cloud.change("1110001", messages=[message])))
    raw = raw.replace('"type": "text"', '"type": "text", "weight": 1e400')
    assert (await post(client, raw.encode())).status_code == 200
    weight = scalar(
        sync_engine, "SELECT body->>'weight' FROM tenant_tienda.messages WHERE wamid = 'wamid.HUGE'"
    )
    assert weight == "1e400"


async def test_a_lone_surrogate_deep_in_nested_content_is_stored(
    app_client: Client, sync_engine: Engine
) -> None:
    client, _ = app_client
    depth = 700
    nested = b"[" * depth + b'"\\ud800"' + b"]" * depth
    raw = (
        b'{"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": '
        b'[{"field": "account_update", "value": {"deep": ' + nested + b"}}]}]}"
    )
    assert (await post(client, raw)).status_code == 200
    [(_, _, payload)] = unhandled(sync_engine)
    inner = payload["deep"]
    for _ in range(depth - 1):
        [inner] = inner
    assert inner == ["\ufffd"]


async def test_an_unexpected_failure_is_503_not_500(
    app_client: Client, shops: dict[str, ProvisionedShop], monkeypatch: pytest.MonkeyPatch
) -> None:
    client, app = app_client

    async def broken(envelope: object) -> None:
        raise RuntimeError("a defect of ours")

    monkeypatch.setattr(app.state.processor, "process", broken)
    response = await post(client, cloud.message_from("1110001", CUSTOMER, "hola"))
    assert response.status_code == 503


async def test_a_schema_behind_its_migrations_is_503_until_migrated(
    app_client: Client, shops: dict[str, ProvisionedShop], sync_engine: Engine
) -> None:
    """A missing table is the operator's to fix, not the message's fault: Meta keeps it."""
    client, _ = app_client
    body = cloud.message_from("1110001", CUSTOMER, "hola", id="wamid.SCHEMA")
    with sync_engine.begin() as conn:
        conn.execute(text("ALTER TABLE tenant_tienda.customer_sessions RENAME TO gone"))
    assert (await post(client, body)).status_code == 503
    assert unhandled(sync_engine) == []
    with sync_engine.begin() as conn:
        conn.execute(text("ALTER TABLE tenant_tienda.gone RENAME TO customer_sessions"))
    assert (await post(client, body)).status_code == 200
    assert scalar(sync_engine, "SELECT count(*) FROM tenant_tienda.customer_sessions") == 1

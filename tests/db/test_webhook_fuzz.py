"""Property: whatever JSON arrives with a valid signature, the answer is 200 or 400, never 5xx."""

from __future__ import annotations

import itertools
import json
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, text
from starlette.applications import Starlette

from tests.conftest import ProvisionedShop
from tests.support import cloud

Client = tuple[httpx.AsyncClient, Starlette]


def _json(floats: st.SearchStrategy[float]) -> st.SearchStrategy[Any]:
    scalars = st.none() | st.booleans() | st.integers() | floats | st.text()
    return st.recursive(
        scalars,
        lambda children: (
            st.lists(children, max_size=4)
            | st.dictionaries(st.text(max_size=12), children, max_size=5)
        ),
        max_leaves=25,
    )


# Infinity is not JSON (a 400); what Meta could send has finite numbers.
any_json = _json(st.floats(allow_nan=False))
json_values = _json(st.floats(allow_nan=False, allow_infinity=False))
# Keys Meta uses, so that generated dicts reach deep into the parsing, not just the top.
known_keys = st.sampled_from(
    [
        "id",
        "from",
        "from_user_id",
        "timestamp",
        "type",
        "text",
        "body",
        "interactive",
        "button_reply",
        "list_reply",
        "location",
        "latitude",
        "image",
        "order",
        "product_items",
        "status",
        "errors",
        "code",
        "context",
        "reaction",
        "emoji",
        "contacts",
        "wa_id",
        "user_id",
    ]
)
message_like = st.dictionaries(known_keys, json_values, max_size=8)

FUZZ = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


async def _post(client: httpx.AsyncClient, body: Any) -> int:
    raw, headers = cloud.signed(json.dumps(body).encode())
    return (await client.post("/webhook", content=raw, headers=headers)).status_code


@FUZZ
@given(body=any_json)
async def test_arbitrary_json_is_never_a_server_error(app_client: Client, body: Any) -> None:
    client, _ = app_client
    assert await _post(client, body) in (200, 400)


_UNHANDLED = "SELECT count(*) FROM central.unhandled_updates"


def _counts(engine: Engine) -> tuple[int, int, int, int]:
    """Inbound messages, statuses, unhandled items and unhandled whole changes stored."""
    with engine.connect() as conn:
        return (
            conn.execute(
                text("SELECT count(*) FROM tenant_tienda.messages WHERE direction = 'in'")
            ).scalar_one(),
            conn.execute(text("SELECT count(*) FROM tenant_tienda.message_statuses")).scalar_one(),
            conn.execute(
                text(f"{_UNHANDLED} WHERE reason NOT LIKE 'invalid change%'")
            ).scalar_one(),
            conn.execute(text(f"{_UNHANDLED} WHERE reason LIKE 'invalid change%'")).scalar_one(),
        )


def _unique_ids(items: list[dict[str, Any]], prefix: str) -> list[dict[str, Any]]:
    # Two items with one id are a redelivery, handled once: keep ids apart so every item
    # generated must be accounted for.
    return [
        {**item, "id": f"{prefix}{n}.{item['id']}"} if isinstance(item.get("id"), str) else item
        for n, item in enumerate(items)
    ]


@FUZZ
@given(
    messages=st.lists(message_like, max_size=3),
    statuses=st.lists(message_like, max_size=3),
    contacts=st.lists(json_values, max_size=2),
)
async def test_every_item_for_a_real_shop_is_handled_or_stored(
    app_client: Client,
    shops: dict[str, ProvisionedShop],
    sync_engine: Engine,
    messages: list[dict[str, Any]],
    statuses: list[dict[str, Any]],
    contacts: list[Any],
) -> None:
    """A valid envelope is acknowledged, and nothing in it is dropped in silence: each item
    is stored as a message or a status, or recorded as unhandled (or, when the change
    itself cannot be read, the whole change is)."""
    client, _ = app_client
    batch = next(_batches)
    messages = _unique_ids(messages, f"wamid.M{batch}.")
    statuses = _unique_ids(statuses, f"wamid.S{batch}.")
    value: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "metadata": {"phone_number_id": "1110001"},
        "messages": messages,
        "statuses": statuses,
        "contacts": contacts,
    }
    body = {
        "object": "whatsapp_business_account",
        "entry": [{"id": "1", "changes": [{"field": "messages", "value": value}]}],
    }
    before = _counts(sync_engine)
    assert await _post(client, body) == 200
    inbound, recorded, items, changes = (
        after - was for after, was in zip(_counts(sync_engine), before, strict=True)
    )
    if changes:
        assert (changes, inbound, recorded, items) == (1, 0, 0, 0)
    else:
        assert inbound + recorded + items == len(messages) + len(statuses)


_batches = itertools.count()

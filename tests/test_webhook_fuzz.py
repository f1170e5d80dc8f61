"""Property: whatever JSON arrives with a valid signature, the answer is 200 or 400, never 5xx."""

from __future__ import annotations

import json
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette

from tests import cloud
from tests.conftest import ProvisionedShop

Client = tuple[httpx.AsyncClient, Starlette]

scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=25,
)
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
@given(body=json_values)
async def test_arbitrary_json_is_never_a_server_error(app_client: Client, body: Any) -> None:
    client, _ = app_client
    assert await _post(client, body) in (200, 400)


@FUZZ
@given(
    messages=st.lists(message_like, max_size=3),
    statuses=st.lists(message_like, max_size=3),
    contacts=st.lists(json_values, max_size=2),
)
async def test_arbitrary_items_for_a_real_shop_are_acknowledged(
    app_client: Client,
    shops: dict[str, ProvisionedShop],
    messages: list[dict[str, Any]],
    statuses: list[dict[str, Any]],
    contacts: list[Any],
) -> None:
    client, _ = app_client
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
    assert await _post(client, body) in (200, 400)

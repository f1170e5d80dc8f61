"""Webhook bodies shaped like the ones Meta POSTs, for whatever plays Meta locally (the fault
drills, load scripts): an envelope around messages, contacts or statuses, and its signature.
"""

from __future__ import annotations

import json
from typing import Any

from chatcentral.whatsapp.signature import HEADER, sign

WABA_ID = "100000000000000"  # the simulated WhatsApp Business Account
BUSINESS_PHONE = "15550000000"


def envelope(
    phone_number_id: str,
    *,
    messages: list[dict[str, Any]] | None = None,
    contacts: list[dict[str, Any]] | None = None,
    statuses: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """One `messages` change for the shop with `phone_number_id`."""
    value: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": BUSINESS_PHONE, "phone_number_id": phone_number_id},
    }
    for key, items in (("contacts", contacts), ("messages", messages), ("statuses", statuses)):
        if items is not None:
            value[key] = items
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": WABA_ID, "changes": [{"field": "messages", "value": value}]}],
    }


def contact(wa_id: str, name: str) -> dict[str, Any]:
    return {"profile": {"name": name}, "wa_id": wa_id}


def message(sender: str, wamid: str, timestamp: int, content: dict[str, Any]) -> dict[str, Any]:
    """A `messages[]` item: `content` is its type and body, e.g. `text_content("hola")`."""
    return {"from": sender, "id": wamid, "timestamp": str(timestamp), **content}


def text_content(body: str) -> dict[str, Any]:
    return {"type": "text", "text": {"body": body}}


def location_content(
    latitude: float, longitude: float, name: str | None = None, address: str | None = None
) -> dict[str, Any]:
    location: dict[str, Any] = {"latitude": latitude, "longitude": longitude}
    if name:
        location["name"] = name
    if address:
        location["address"] = address
    return {"type": "location", "location": location}


def status(wamid: str, state: str, timestamp: int, recipient: str) -> dict[str, Any]:
    return {"id": wamid, "status": state, "timestamp": str(timestamp), "recipient_id": recipient}


def signed(secret: str, body: dict[str, Any] | bytes) -> tuple[bytes, dict[str, str]]:
    """The raw bytes to POST and their headers; Meta signs the exact bytes it sends."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return raw, {"Content-Type": "application/json", HEADER: sign(secret, raw)}

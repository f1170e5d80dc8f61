"""Webhook bodies shaped like the ones Meta POSTs, for whatever plays Meta locally: the
chat simulator, the load script, the fault drills and the tests. Items (a text, a tapped
list row, a location, a contact, a status) go into a change, changes into an envelope,
and `signed` gives the exact bytes to POST with their `X-Hub-Signature-256`.
"""

from __future__ import annotations

import itertools
import json
import secrets
from typing import Any

from chatcentral.whatsapp.signature import HEADER, sign

WABA_ID = "100000000000000"  # the simulated WhatsApp Business Account
BUSINESS_PHONE = "15550000000"
DEFAULT_TS = 1_760_000_000

# Databases outlive processes and wamids are unique there: never reuse one across runs.
_RUN = secrets.token_hex(4).upper()
_numbers = itertools.count(1)


def wamid() -> str:
    """A wamid no other call (in this run or another) has produced."""
    return f"wamid.SIM{_RUN}{next(_numbers):08d}=="


# --- items ---------------------------------------------------------------------------------


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


def text(
    sender: str,
    body: str,
    *,
    ts: int = DEFAULT_TS,
    id: str | None = None,
    user_id: str | None = None,
) -> dict[str, Any]:
    """A text message; without `sender` (a user known only by BSUID) it has no `from`."""
    item: dict[str, Any] = {"id": id or wamid(), "timestamp": str(ts), **text_content(body)}
    if sender:
        item["from"] = sender
    if user_id:
        item["from_user_id"] = user_id
    return item


def list_reply(sender: str, row_id: str, title: str, *, ts: int = DEFAULT_TS) -> dict[str, Any]:
    """A tapped list row, answering an earlier message of the business."""
    return {
        "from": sender,
        "id": wamid(),
        "timestamp": str(ts),
        "type": "interactive",
        "context": {"from": BUSINESS_PHONE, "id": "wamid.PREVIOUS"},
        "interactive": {"type": "list_reply", "list_reply": {"id": row_id, "title": title}},
    }


def contact(wa_id: str | None, name: str = "Cliente", user_id: str | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {"profile": {"name": name}}
    if wa_id:
        entry["wa_id"] = wa_id
    if user_id:
        entry["user_id"] = user_id
    return entry


def status(
    message_wamid: str,
    state: str,
    ts: int = DEFAULT_TS + 100,
    recipient: str = "525512345678",
    *,
    error_code: int | None = None,
) -> dict[str, Any]:
    """A `statuses[]` item: news about a message the business sent."""
    item: dict[str, Any] = {
        "id": message_wamid,
        "status": state,
        "timestamp": str(ts),
        "recipient_id": recipient,
    }
    if error_code is not None:
        item["errors"] = [{"code": error_code, "title": "failed"}]
    return item


# --- changes and envelopes -----------------------------------------------------------------


def change(
    phone_number_id: str,
    *,
    messages: list[dict[str, Any]] | None = None,
    contacts: list[dict[str, Any]] | None = None,
    statuses: list[dict[str, Any]] | None = None,
    display_phone: str = BUSINESS_PHONE,
) -> dict[str, Any]:
    """One `messages` change for the shop with `phone_number_id`."""
    value: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": display_phone, "phone_number_id": phone_number_id},
    }
    for key, items in (("contacts", contacts), ("messages", messages), ("statuses", statuses)):
        if items is not None:
            value[key] = items
    return {"field": "messages", "value": value}


def envelope(*changes: dict[str, Any], entries: int = 1) -> dict[str, Any]:
    """The POST body: the changes, in `entries` entries of the business account."""
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": WABA_ID, "changes": list(changes)} for _ in range(entries)],
    }


def one_change(phone_number_id: str, **items: Any) -> dict[str, Any]:
    """A body holding one change (what Meta sends most of the time)."""
    return envelope(change(phone_number_id, **items))


def message_from(phone_number_id: str, sender: str, body: str, **kwargs: Any) -> dict[str, Any]:
    """A whole body carrying one text message and its contact."""
    return one_change(
        phone_number_id, contacts=[contact(sender)], messages=[text(sender, body, **kwargs)]
    )


def signed(body: dict[str, Any] | bytes, secret: str) -> tuple[bytes, dict[str, str]]:
    """The raw bytes to POST and their headers; Meta signs the exact bytes it sends."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return raw, {"Content-Type": "application/json", HEADER: sign(secret, raw)}

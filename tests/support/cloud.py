"""Cloud API webhook bodies as Meta sends them, written for these tests, and signing."""

from __future__ import annotations

import itertools
import json
from typing import Any

from chatcentral.whatsapp.signature import sign

APP_SECRET = "test-app-secret"
_counter = itertools.count(1)


def wamid() -> str:
    return f"wamid.TEST{next(_counter):08d}=="


def text(
    sender: str,
    body: str,
    *,
    ts: int = 1_760_000_000,
    id: str | None = None,
    user_id: str | None = None,
) -> dict[str, Any]:
    message: dict[str, Any] = {
        "id": id or wamid(),
        "timestamp": str(ts),
        "type": "text",
        "text": {"body": body},
    }
    if sender:
        message["from"] = sender
    if user_id:
        message["from_user_id"] = user_id
    return message


def list_reply(sender: str, row_id: str, title: str, *, ts: int = 1_760_000_000) -> dict[str, Any]:
    return {
        "from": sender,
        "id": wamid(),
        "timestamp": str(ts),
        "type": "interactive",
        "context": {"from": "15550000000", "id": "wamid.PREVIOUS"},
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
    *,
    ts: int = 1_760_000_100,
    recipient: str = "525512345678",
    error_code: int | None = None,
) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": message_wamid,
        "status": state,
        "timestamp": str(ts),
        "recipient_id": recipient,
    }
    if error_code is not None:
        item["errors"] = [{"code": error_code, "title": "failed"}]
    return item


def change(
    phone_number_id: str,
    *,
    messages: list[dict[str, Any]] | None = None,
    contacts: list[dict[str, Any]] | None = None,
    statuses: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    value: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550000000", "phone_number_id": phone_number_id},
    }
    if contacts is not None:
        value["contacts"] = contacts
    if messages is not None:
        value["messages"] = messages
    if statuses is not None:
        value["statuses"] = statuses
    return {"field": "messages", "value": value}


def envelope(*changes: dict[str, Any], entries: int = 1) -> dict[str, Any]:
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": "102290129340398", "changes": list(changes)} for _ in range(entries)],
    }


def message_from(phone_number_id: str, sender: str, body: str, **kwargs: Any) -> dict[str, Any]:
    """A whole webhook body carrying one text message and its contact."""
    return envelope(
        change(phone_number_id, contacts=[contact(sender)], messages=[text(sender, body, **kwargs)])
    )


def signed(body: dict[str, Any] | bytes, secret: str = APP_SECRET) -> tuple[bytes, dict[str, str]]:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return raw, {"Content-Type": "application/json", "X-Hub-Signature-256": sign(secret, raw)}

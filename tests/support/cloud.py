"""Webhook bodies for the tests: the simulator's builders (one set for the simulator, the
load script, the drills and the tests), signed with the tests' app secret."""

from __future__ import annotations

from typing import Any

from chatcentral.simulator import webhooks
from chatcentral.simulator.webhooks import (
    change,
    contact,
    envelope,
    list_reply,
    message_from,
    status,
    text,
    wamid,
)

APP_SECRET = "test-app-secret"


def signed(body: dict[str, Any] | bytes, secret: str = APP_SECRET) -> tuple[bytes, dict[str, str]]:
    return webhooks.signed(body, secret)


__all__ = [
    "APP_SECRET",
    "change",
    "contact",
    "envelope",
    "list_reply",
    "message_from",
    "signed",
    "status",
    "text",
    "wamid",
]

"""A customer talking to the bot through the real POST /webhook, for conversation tests.

Replies are read back from the outbox (what the dispatcher would send), so tests see
exactly what leaves for WhatsApp without running the dispatcher.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

import httpx
from sqlalchemy import Engine, text

from chatcentral.phones import normalize_phone, wa_id_of
from chatcentral.simulator.render import Rendered, render
from tests.support import cloud

_clock = itertools.count(1_770_000_000, 7)


class Customer:
    def __init__(
        self,
        client: httpx.AsyncClient,
        engine: Engine,
        phone_number_id: str,
        wa_id: str = "5215512345678",
        name: str = "Ana López",
    ) -> None:
        self.client = client
        self.engine = engine
        self.phone_number_id = phone_number_id
        self.wa_id = wa_id
        self.name = name
        self.last: list[dict[str, Any]] = []
        self._seen = 0
        self.recipient = wa_id_of(normalize_phone(wa_id))  # the outbox keys the canonical form
        self.slug = ""

    # --- what the customer does ----------------------------------------------------------

    async def says(self, body: str) -> list[dict[str, Any]]:
        return await self._send({"type": "text", "text": {"body": body}})

    async def taps(self, number: int) -> list[dict[str, Any]]:
        """Tap option `number` (1-based) of the last interactive message."""
        shown = self.rendered_last_interactive()
        option = shown.options[number - 1]
        kind = shown.reply_type or "list_reply"
        reply: dict[str, Any] = {"id": option.reply_id, "title": option.title}
        return await self._send(
            {
                "type": "interactive",
                "interactive": {"type": kind, kind: reply},
                "context": {"from": "15550000000", "id": "wamid.PREVIOUS"},
            }
        )

    async def taps_id(self, reply_id: str) -> list[dict[str, Any]]:
        return await self._send(
            {
                "type": "interactive",
                "interactive": {
                    "type": "button_reply",
                    "button_reply": {"id": reply_id, "title": "x"},
                },
            }
        )

    async def shares_location(
        self, lat: float, lng: float, name: str | None = None, address: str | None = None
    ) -> list[dict[str, Any]]:
        location: dict[str, Any] = {"latitude": lat, "longitude": lng}
        if name:
            location["name"] = name
        if address:
            location["address"] = address
        return await self._send({"type": "location", "location": location})

    async def sends_photo(self, media_id: str) -> list[dict[str, Any]]:
        return await self._send(
            {
                "type": "image",
                "image": {"id": media_id, "mime_type": "image/jpeg", "sha256": "AAAA"},
            }
        )

    async def sends_cart(self, items: list[tuple[str, int]]) -> list[dict[str, Any]]:
        return await self._send(
            {
                "type": "order",
                "order": {
                    "catalog_id": "123",
                    "product_items": [
                        {
                            "product_retailer_id": rid,
                            "quantity": qty,
                            "item_price": 10,
                            "currency": "MXN",
                        }
                        for rid, qty in items
                    ],
                },
            }
        )

    async def _send(self, content: dict[str, Any]) -> list[dict[str, Any]]:
        message = {
            "from": self.wa_id,
            "id": cloud.wamid(),
            "timestamp": str(next(_clock)),
            **content,
        }
        body = cloud.envelope(
            cloud.change(
                self.phone_number_id,
                contacts=[cloud.contact(self.wa_id, self.name)],
                messages=[message],
            )
        )
        raw, headers = cloud.signed(body)
        response = await self.client.post("/webhook", content=raw, headers=headers)
        assert response.status_code == 200, response.text
        self.last = self._new_replies()
        return self.last

    def arrivals(self) -> list[dict[str, Any]]:
        """What reached this person since they last looked (something another did, like
        an admin moving their order), kept as `last`."""
        self.last = self._new_replies()
        return self.last

    def _new_replies(self) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT id, payload FROM central.outbox WHERE recipient = :r "
                    "AND kind IN ('message', 'notification', 'relay_media') AND id > :seen "
                    "ORDER BY id"
                ),
                {"r": self.recipient, "seen": self._seen},
            ).all()
        if rows:
            self._seen = rows[-1].id
        return [row.payload for row in rows]

    # --- what the customer sees ----------------------------------------------------------

    def rendered_last_interactive(self) -> Rendered:
        for message in reversed(self.last):
            shown = render(message)
            if shown.options:
                return shown
        raise AssertionError(f"no options in the last replies: {self.last}")

    def option_titles(self) -> list[str]:
        return [option.title for option in self.rendered_last_interactive().options]

    def text_of_last(self) -> str:
        return "\n".join(line for message in self.last for line in render(message).lines)


def pretty(replies: list[dict[str, Any]]) -> str:
    return json.dumps(replies, ensure_ascii=False, indent=1)

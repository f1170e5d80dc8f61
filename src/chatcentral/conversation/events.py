"""What the customer did, reduced to what a flow can react to."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from chatcentral.whatsapp.payloads import InboundMessage

# Kinds of input a flow distinguishes.
TEXT = "text"
REPLY = "reply"  # tapped a list row or a button
LOCATION = "location"
MEDIA = "media"
ORDER = "order"  # a WhatsApp catalog cart
REACTION = "reaction"
UNSUPPORTED = "unsupported"


@dataclass(frozen=True)
class Event:
    kind: str
    text: str | None = None
    reply_id: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


def event_from(message: InboundMessage) -> Event:
    """Reduce an inbound message to an Event; anything unknown becomes UNSUPPORTED."""
    if message.reply_id is not None:
        return Event(REPLY, text=message.text_body, reply_id=message.reply_id)
    if message.text is not None:
        return Event(TEXT, text=message.text.body)
    if message.location is not None:
        location = message.location
        return Event(
            LOCATION,
            details={
                "latitude": location.latitude,
                "longitude": location.longitude,
                "name": location.name,
                "address": location.address,
            },
        )
    media = message.media
    if media is not None:
        return Event(
            MEDIA,
            text=media.caption,
            details={
                "type": message.type,
                "media_id": media.id,
                "mime_type": media.mime_type,
                "filename": media.filename,
            },
        )
    if message.order is not None:
        items = [
            {
                "retailer_id": item.product_retailer_id,
                "quantity": item.quantity,
                "price": str(item.item_price),
            }
            for item in message.order.product_items
        ]
        return Event(ORDER, text=message.order.text, details={"items": items})
    if message.reaction is not None:
        return Event(REACTION, details={"emoji": message.reaction.emoji})
    return Event(UNSUPPORTED, details={"type": message.type})

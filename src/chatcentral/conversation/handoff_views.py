"""What a human handoff says, to the shop's admins and to the customer. Pure: it takes
the event, the names and the shop's texts, and builds Cloud API messages within
WhatsApp's limits; `handoffs/relay.py` decides who gets them and queues them.

A customer's message reaches an admin as it was sent: a text as text, a pin as a maps
link, a photo as a photo (the dispatcher moves the media itself at send time), each
under the customer's name and the handoff's number ("💬 *Ana López* · #12"). Outside an
admin's 24-hour window the same news goes out as the `cliente_espera` template, whose
parameters must be single lines (`template_param`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

from chatcentral.conversation.events import LOCATION, MEDIA, ORDER, REPLY, TEXT, Event
from chatcentral.conversation.views import clip
from chatcentral.whatsapp import outbound
from chatcentral.whatsapp.outbound import Button

Message = dict[str, Any]
Texts = Mapping[str, str]

# Reply ids of the customer's buttons: back to the bot's menu, or keep waiting for a person.
BACK_TO_MENU = "nav:menu"
KEEP_WAITING = "handoff:wait"
# The admin's button that ends a handoff (read by `conversation/staff.py`).
CLOSE_PREFIX = "adm:handoff:"

# A media message's caption: WhatsApp's documented maximum.
CAPTION_MAX = 1024
# Media WhatsApp sends with a caption; audio and stickers take none, so their header
# travels as a text just before them.
CAPTIONED = frozenset({"image", "video", "document"})
MEDIA_TYPES = frozenset({"image", "video", "document", "audio", "sticker"})
# One template parameter: a line of the customer's message, enough to know what it is about.
TEMPLATE_PARAM_MAX = 400


@dataclass(frozen=True)
class Relayed:
    """One message for an admin. `media` marks a message carrying the customer's own
    media id, which the dispatcher downloads and uploads again before sending it."""

    message: Message
    media: bool = False


@dataclass(frozen=True)
class HandoffBrief:
    """One open handoff in the admin's "Conversaciones abiertas"."""

    id: int
    customer: str
    phone: str | None  # canonical digits, for a wa.me link
    opened_at: datetime
    waiting_since: datetime | None  # None: answered, nobody waiting
    claimed_by: str | None  # who took it, as the admins know them


def customer_label(name: str | None, wa_id: str | None) -> str:
    """How the admins know a customer: their WhatsApp name, else their number."""
    if name and name.strip():
        return name.strip()
    return f"+{wa_id}" if wa_id else "Cliente"


def header(texts: Texts, customer: str, number: int, body: str = "") -> str:
    return fill(texts, "staff.handoff.relay", customer=customer, number=number, text=body).strip()


# --- the customer's messages, for the admins ---------------------------------------------


def relay_messages(texts: Texts, event: Event, customer: str, number: int) -> list[Relayed]:
    """What an admin receives for one message of the customer, in order."""
    media_type = str(event.details.get("type", ""))
    media_id = event.details.get("media_id")
    if event.kind == MEDIA and media_type in MEDIA_TYPES and media_id:
        return _media(texts, event, media_type, str(media_id), customer, number)
    body = clip(header(texts, customer, number, describe(texts, event)), outbound.TEXT_BODY_MAX)
    return [Relayed(outbound.text(body, preview_url=event.kind == LOCATION))]


def describe(texts: Texts, event: Event) -> str:
    """The customer's message as text: what they wrote, where they are, what they sent."""
    details = event.details
    if event.kind == TEXT:
        return event.text or ""
    if event.kind == LOCATION:
        lines = [texts["staff.handoff.location"]]
        lines += [str(details[key]) for key in ("name", "address") if details.get(key)]
        lines.append(maps_link(details.get("latitude"), details.get("longitude")))
        return "\n".join(lines)
    if event.kind == MEDIA:
        kind = fill(texts, f"staff.handoff.media.{details.get('type')}", default="media.other")
        return f"{kind}: {event.text}" if event.text else kind
    if event.kind == REPLY:
        return fill(texts, "staff.handoff.tapped", text=event.text or event.reply_id or "")
    if event.kind == ORDER:
        return fill(texts, "staff.handoff.cart", count=len(details.get("items", [])))
    return texts["staff.handoff.unsupported"]


def maps_link(latitude: object, longitude: object) -> str:
    return f"https://maps.google.com/?q={latitude},{longitude}"


def _media(
    texts: Texts, event: Event, media_type: str, media_id: str, customer: str, number: int
) -> list[Relayed]:
    media: dict[str, Any] = {"id": media_id}
    if media_type == "document" and event.details.get("filename"):
        media["filename"] = str(event.details["filename"])
    if media_type in CAPTIONED:
        media["caption"] = clip(header(texts, customer, number, event.text or ""), CAPTION_MAX)
        return [Relayed({"type": media_type, media_type: media}, media=True)]
    # No caption on audio and stickers: say who sent it just before.
    intro = header(texts, customer, number, describe(texts, event))
    return [
        Relayed(outbound.text(clip(intro, outbound.TEXT_BODY_MAX))),
        Relayed({"type": media_type, media_type: media}, media=True),
    ]


def answer_media(details: Mapping[str, Any], caption: str) -> Message | None:
    """An admin's photo or file for the customer (the dispatcher moves the media too),
    or None when it is not media WhatsApp can send on."""
    media_type = str(details.get("type", ""))
    media_id = details.get("media_id")
    if media_type not in MEDIA_TYPES or not media_id:
        return None
    media: dict[str, Any] = {"id": str(media_id)}
    if media_type == "document" and details.get("filename"):
        media["filename"] = str(details["filename"])
    if media_type in CAPTIONED and caption.strip():
        media["caption"] = clip(caption.strip(), CAPTION_MAX)
    return {"type": media_type, media_type: media}


# --- the template, outside an admin's 24-hour window -------------------------------------


def template_param(value: str, limit: int = TEMPLATE_PARAM_MAX) -> str:
    """A template parameter WhatsApp accepts: one line (no new lines or tabs, never
    more than four spaces in a row), not empty, within `limit` characters."""
    parts = (" ".join(part.split()) for part in value.splitlines())
    line = " · ".join(part for part in parts if part)
    return clip(line, limit) if line else "—"


def waiting_params(customer: str, number: int, summary: str) -> list[str]:
    """`cliente_espera`'s parameters: who wrote, the handoff's number, what they sent."""
    return [template_param(customer, 60), str(number), template_param(summary)]


def waiting_payloads(number: int) -> list[str]:
    """`cliente_espera`'s quick replies: the open handoffs, and closing this one."""
    return ["adm:handoffs", f"{CLOSE_PREFIX}{number}:close"]


# --- the admins' side of a handoff -------------------------------------------------------


def opened_message(texts: Texts, customer: str, number: int, wa_id: str | None) -> Message:
    """News of a new handoff: who, how to reach them, how to answer, and a button to close."""
    phone = f"+{wa_id} · https://wa.me/{wa_id}" if wa_id else ""
    body = fill(texts, "staff.handoff.opened", customer=customer, number=number, phone=phone)
    body = re.sub(r"\n{3,}", "\n\n", body)
    return outbound.reply_buttons(
        clip(body, outbound.INTERACTIVE_BODY_MAX),
        [close_button(texts, number)],
    )


def close_button(texts: Texts, number: int) -> Button:
    title = clip(fill(texts, "staff.handoff.close", number=number), outbound.BUTTON_TITLE_MAX)
    return Button(f"{CLOSE_PREFIX}{number}:close", title)


def handoffs_list(
    texts: Texts, briefs: Sequence[HandoffBrief], tz: tzinfo, now: datetime
) -> Message:
    """ "Conversaciones abiertas": each one, whether someone waits and since when, or
    who took it; then how to answer and close."""
    if not briefs:
        return outbound.text(texts["staff.handoff.list_none"])
    lines = [fill(texts, "staff.handoff.list_body", count=len(briefs))]
    for brief in briefs:
        values: dict[str, Any] = {"number": brief.id, "customer": brief.customer}
        if brief.waiting_since is not None:
            values["time"] = _when(brief.waiting_since, tz, now)
            line = fill(texts, "staff.handoff.list_waiting", **values)
        else:
            values["time"] = _when(brief.opened_at, tz, now)
            line = fill(texts, "staff.handoff.list_answered", **values)
        if brief.claimed_by:
            line += " " + fill(texts, "staff.handoff.list_claimed", admin=brief.claimed_by)
        lines.append(line)
    lines.append(texts["staff.handoff.list_footer"])
    return outbound.text(clip("\n".join(lines), outbound.TEXT_BODY_MAX))


def _when(moment: datetime, tz: tzinfo, now: datetime) -> str:
    local = moment.astimezone(tz)
    if local.date() == now.astimezone(tz).date():
        return f"{local:%H:%M}"
    return f"{local:%d/%m %H:%M}"


# --- the customer's side -----------------------------------------------------------------


def ended_message(texts: Texts, shop: str) -> Message:
    """The staff closed the handoff: the customer is back with the bot."""
    return outbound.reply_buttons(
        fill(texts, "handoff.ended", shop=shop),
        [Button(BACK_TO_MENU, clip(texts["nav.menu"], outbound.BUTTON_TITLE_MAX))],
    )


def timeout_message(texts: Texts, shop: str) -> Message:
    """Nobody answered in time: say so, and offer the menu or more waiting."""
    return outbound.reply_buttons(
        fill(texts, "handoff.timeout", shop=shop),
        [
            Button(BACK_TO_MENU, clip(texts["nav.menu"], outbound.BUTTON_TITLE_MAX)),
            Button(KEEP_WAITING, clip(texts["handoff.keep_waiting"], outbound.BUTTON_TITLE_MAX)),
        ],
    )


def fill(texts: Texts, key: str, default: str | None = None, **values: Any) -> str:
    """The text `key` with its placeholders filled (`default`: the staff.handoff.* key to
    use when `key` is missing); a shop's own wording with one we do not fill stays as is."""
    template = texts.get(key)
    if template is None:
        template = texts[f"staff.handoff.{default}"] if default else texts[key]
    try:
        return template.format(**values) if "{" in template else template
    except (KeyError, IndexError, ValueError):
        return template  # a shop's own wording with a placeholder we do not fill

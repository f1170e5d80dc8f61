"""Telling every admin of a shop about a new order, inside the order's own transaction.

One outbox row per admin phone (kind `notification`, keyed on the admin's canonical
digits), written with the order: committed together, so the news is never lost, and the
order is written once per confirming message (its wamid is unique), so no admin hears of
it twice. An admin whose 24-hour window is open gets the interactive message, with the
template kept as its fallback for a 131047; the others get the template. Each send
carries the `notifications` row's id (`biz_opaque_callback_data`), so the dispatcher can
mark the row delivered once every admin's send went out.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from chatcentral.conversation.flow import FlowSpec, effective, shipped_flow
from chatcentral.conversation.shop import Shop
from chatcentral.notifications import new_order, templates, window
from chatcentral.notifications.new_order import OrderNotice
from chatcentral.outbox import enqueue
from chatcentral.phones import InvalidPhone, normalize_phone, wa_id_of
from chatcentral.whatsapp import outbound

log = logging.getLogger(__name__)

KIND = "notification"
NEW_ORDER_TEMPLATE = "nuevo_pedido"
CALLBACK_PREFIX = "notification:"


def admin_recipients(shop: Shop) -> dict[str, str]:
    """The shop's admins once each: canonical digits (the outbox key) → E.164 phone."""
    admins: dict[str, str] = {}
    for phone in shop.admin_phones:
        try:
            canonical = normalize_phone(phone)
        except InvalidPhone:
            log.error("shop %s: admin phone %r is not a phone number; skipped", shop.slug, phone)
            continue
        admins.setdefault(wa_id_of(canonical), canonical)
    return admins


def callback_data(notification_id: int) -> str:
    return f"{CALLBACK_PREFIX}{notification_id}"


def notification_of(payload: dict[str, Any]) -> int | None:
    """The `notifications` row a queued call reports on, if it is one of ours."""
    data = payload.get("biz_opaque_callback_data")
    if isinstance(data, str) and data.startswith(CALLBACK_PREFIX):
        number = data.removeprefix(CALLBACK_PREFIX)
        return int(number) if number.isdigit() else None
    return None


async def notify_new_order(
    conn: AsyncConnection, shop: Shop, notification_id: int, notice: OrderNotice
) -> int:
    """Queue the news of `notice` for every admin; return how many were queued."""
    admins = admin_recipients(shop)
    if not admins:
        log.warning("shop %s: order #%d: no admin phone to tell", shop.slug, notice.order_id)
        return 0
    interactive, template = _messages(shop, notice)
    callback = callback_data(notification_id)
    inside = await window.open_windows(conn, admins)
    for key, phone in admins.items():
        by_template = outbound.envelope(template, to=phone, callback_data=callback)
        if key in inside:
            payload = outbound.envelope(interactive, to=phone, callback_data=callback)
            await enqueue.queue_message(
                conn, shop.id, KIND, key, interactive, payload, fallback=by_template
            )
        else:
            await enqueue.queue_message(conn, shop.id, KIND, key, template, by_template)
    log.info(
        "shop %s: order #%d: %d admin(s) told (%d inside their 24-hour window)",
        shop.slug,
        notice.order_id,
        len(admins),
        len(inside),
    )
    return len(admins)


def _messages(shop: Shop, notice: OrderNotice) -> tuple[dict[str, Any], dict[str, Any]]:
    """Both forms of the news in the shop's wording, or in the shipped one when the shop's
    own texts cannot be filled in (a typo in an override must not cost the order)."""
    flow = shipped_flow(shop.flow)
    settings, texts = effective(flow, shop.settings)
    spec = templates.for_shop(NEW_ORDER_TEMPLATE, settings.templates)
    try:
        return new_order.interactive(notice, texts), new_order.template(notice, texts, spec)
    except (KeyError, IndexError, ValueError) as exc:
        log.warning(
            "shop %s: its notify.* texts cannot be used (%s: %s); using the shipped ones",
            shop.slug,
            type(exc).__name__,
            exc,
        )
        return _shipped(flow, notice, spec)


def _shipped(
    flow: FlowSpec, notice: OrderNotice, spec: templates.TemplateSpec
) -> tuple[dict[str, Any], dict[str, Any]]:
    return new_order.interactive(notice, flow.texts), new_order.template(notice, flow.texts, spec)

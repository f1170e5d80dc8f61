"""Sending a login link to an admin's WhatsApp from the shop's own number, through the
outbox (in the caller's transaction, like every other message).

Inside the admin's 24-hour window it is a plain text; outside it the `acceso_panel`
template with the same words, which is also the fallback when a text still meets a
closed window (131047).
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from chatcentral.conversation.flow import effective, shipped_flow
from chatcentral.conversation.shop import Shop
from chatcentral.notifications import templates, window
from chatcentral.outbox import enqueue
from chatcentral.phones import wa_id_of
from chatcentral.whatsapp import outbound

KIND = "panel_login"
TEMPLATE = "acceso_panel"


async def send_link(conn: AsyncConnection, shop: Shop, phone: str, link: str) -> None:
    """Queue `link` for the admin `phone` (canonical E.164) of `shop`."""
    settings, _ = effective(shipped_flow(shop.flow), shop.settings)
    spec = templates.for_shop(TEMPLATE, settings.templates)
    params = [outbound.template_param(shop.name), link]
    by_template = outbound.envelope(spec.message(params, []), to=phone)
    recipient = wa_id_of(phone)
    if recipient in await window.open_windows(conn, [recipient]):
        message = outbound.text(spec.render(params))
        payload = outbound.envelope(message, to=phone)
        await enqueue.queue_message(
            conn, shop.id, KIND, recipient, message, payload, fallback=by_template
        )
    else:
        template = spec.message(params, [])
        await enqueue.queue_message(conn, shop.id, KIND, recipient, template, by_template)

"""The panel's conversations: the customers waiting for a person (open handoffs), one
conversation as a chat with a reply box, and closing it. Answers and closing go through
`handoffs/relay.py` (`answer`, `close`) as an admin's WhatsApp reply does, under the
signed-in admin's own number: the message leaves through the outbox, the first answer
takes the handoff (the customer's next messages reach that admin's WhatsApp) and the
other admins are told.

A customer's photo, voice note or file is shown as a link to a panel address that makes
a short-lived link (`media.staff_links.media_link`) when it is opened, so a page left
open for an hour still opens the file; the order page's transfer receipt works the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncConnection
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from chatcentral.config import Settings
from chatcentral.conversation.handoff_views import HandoffBrief
from chatcentral.conversation.shop import Shop
from chatcentral.handoffs import queries, relay
from chatcentral.handoffs.queries import Preview, Thread, ThreadMessage
from chatcentral.media.staff_links import media_link
from chatcentral.media.store import Store
from chatcentral.orders.queries import receipt_of
from chatcentral.panel.access import Session
from chatcentral.panel.render import HEADERS, page
from chatcentral.panel.requests import (
    PREFIX,
    field,
    form_of,
    not_found,
    notice_of,
    path_id,
    signed_in,
)
from chatcentral.phones import wa_id_of
from chatcentral.whatsapp.outbound import TEXT_BODY_MAX

MEDIA_LABELS = {
    "image": "📷 Foto",
    "document": "📄 Documento",
    "audio": "🎤 Nota de voz",
    "video": "🎬 Video",
    "sticker": "Sticker",
}
# Where the customer was when they asked for a person (the flow's state names).
REASONS = {
    "choosing_category": "Viendo las categorías",
    "choosing_product": "Eligiendo un producto",
    "viewing_product": "Viendo un producto",
    "entering_quantity": "Escribiendo la cantidad",
    "reviewing_cart": "Revisando su carrito",
    "removing_item": "Quitando un producto",
    "choosing_fulfillment": "Eligiendo entrega o recoger",
    "choosing_address": "Eligiendo su dirección",
    "entering_address": "Escribiendo su dirección",
    "out_of_zone": "Fuera de la zona de entrega",
    "choosing_slot": "Eligiendo horario",
    "choosing_payment": "Eligiendo cómo pagar",
    "entering_cash": "Diciendo con cuánto paga",
    "awaiting_receipt": "Enviando su comprobante",
    "entering_notes": "Escribiendo notas",
    "confirming_order": "Confirmando su pedido",
    "checking_status": "Consultando un pedido",
    "listing_orders": "Viendo sus pedidos",
    "offering_usual": "Pidiendo lo de siempre",
    "starting_checkout": "Empezando su pedido",
    "entering_empties": "Diciendo sus garrafones vacíos",
}
ASKED = "Pidió hablar con una persona"
NOTICES = {
    "sent": "Listo: tu respuesta va en camino al WhatsApp del cliente.",
    "closed": "Conversación cerrada: el cliente volvió al menú del bot.",
}
REFUSALS = {
    "empty": "Escribe una respuesta antes de enviar.",
    "too_long": f"La respuesta es muy larga (máximo {TEXT_BODY_MAX} caracteres).",
    "closed": "Esta conversación ya está cerrada: no se envió nada.",
    "window_closed": (
        "El cliente no ha escrito en 24 horas: WhatsApp no entrega tu mensaje hasta que "
        "vuelva a escribir. No se envió nada."
    ),
}


@dataclass(frozen=True)
class Waiting:
    """One open conversation in the list."""

    id: int
    customer: str
    phone: str | None
    reason: str
    waiting: bool  # nobody has answered the customer's latest messages
    since: str  # how long it has waited (or has been open, once answered)
    taken_by: str | None
    last_text: str | None


@dataclass(frozen=True)
class Bubble:
    """One message of the chat: the customer's on the left, the shop's on the right."""

    id: int
    mine: bool
    text: str | None
    at: datetime
    media: str | None  # what kind of file the customer sent
    media_state: str | None
    failed: bool


# --- helpers ------------------------------------------------------------------------------


def waited(since: datetime, now: datetime) -> str:
    """A wait as a person says it: "3 min", "2 h 5 min", "2 días"."""
    minutes = max(int((now - since).total_seconds() // 60), 0)
    if minutes < 1:
        return "menos de 1 min"
    if minutes < 60:
        return f"{minutes} min"
    hours, rest = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {rest} min" if rest else f"{hours} h"
    days = hours // 24
    return "1 día" if days == 1 else f"{days} días"


def reason_label(reason: str | None) -> str:
    return REASONS.get(reason or "", ASKED)


def taker(claimed_by: str | None, me: str | None = None) -> str | None:
    """Who took a conversation: you, another admin by name (or number), an API key as
    the API. `claimed_by` is as the handoff keeps it (digits) or as the relay's list
    names it."""
    if claimed_by is None:
        return None
    if claimed_by == me:
        return "tú"
    if claimed_by.startswith(("+api:", "api:")):
        return f"la API ({claimed_by.split(':', 1)[1]})"
    return f"+{claimed_by}" if claimed_by.isdigit() else claimed_by


def _waiting(brief: HandoffBrief, preview: Preview | None, now: datetime) -> Waiting:
    last = None
    if preview is not None and preview.last_type is not None:
        last = preview.last_text or MEDIA_LABELS.get(preview.last_type, "Mensaje")
    return Waiting(
        id=brief.id,
        customer=brief.customer,
        phone=brief.phone,
        reason=reason_label(preview.reason if preview else None),
        waiting=brief.waiting_since is not None,
        since=waited(brief.waiting_since or brief.opened_at, now),
        taken_by=taker(brief.claimed_by),
        last_text=last,
    )


def _bubble(message: ThreadMessage) -> Bubble:
    mine = message.direction == "out"
    return Bubble(
        id=message.id,
        mine=mine,
        text=message.text,
        at=message.created_at,
        media=MEDIA_LABELS.get(message.type),
        media_state=None if mine else message.media_state,
        failed=mine and message.status == "failed",
    )


def _store(request: Request) -> Store | None:
    store: Store | None = getattr(request.app.state, "media_store", None)
    return store


def _media_redirect(url: str) -> Response:
    # The panel's headers ride along: no Referer leaves for the store, nothing is cached.
    return RedirectResponse(url, status_code=303, headers=HEADERS)


async def _fresh_link(request: Request, conn: AsyncConnection, message_id: int) -> Response:
    store = _store(request)
    if store is None:
        return not_found()
    settings: Settings = request.app.state.settings
    link = await media_link(
        conn, store, message_id, expires_s=settings.chatcentral_media_link_ttl_s
    )
    if link is None or link.url is None:
        return not_found()
    return _media_redirect(link.url)


# --- pages --------------------------------------------------------------------------------


async def _list(request: Request, conn: AsyncConnection, session: Session, shop: Shop) -> Response:
    briefs = await relay.open_handoffs(conn, shop)
    found = await queries.previews(conn, [brief.id for brief in briefs])
    now = datetime.now(UTC)
    rows = [_waiting(brief, found.get(brief.id), now) for brief in briefs]
    return page("conversations.html", csrf=session.csrf_token, shop=shop, rows=rows)


def _show(
    session: Session,
    shop: Shop,
    handoff: Thread,
    *,
    status: int = 200,
    notice: str | None = None,
    error: str | None = None,
    draft: str = "",
) -> Response:
    return page(
        "conversation.html",
        status,
        csrf=session.csrf_token,
        shop=shop,
        handoff=handoff,
        reason=reason_label(handoff.reason),
        taken_by=taker(handoff.claimed_by, wa_id_of(session.phone)),
        bubbles=[_bubble(message) for message in handoff.messages],
        notice=notice,
        error=error,
        draft=draft,
        reply_max=TEXT_BODY_MAX,
    )


async def _thread_page(
    request: Request, conn: AsyncConnection, session: Session, shop: Shop
) -> Response:
    handoff_id = path_id(request, "handoff_id")
    handoff = await queries.thread(conn, handoff_id) if handoff_id is not None else None
    if handoff is None:
        return not_found()
    notice = notice_of(request, NOTICES)
    return _show(session, shop, handoff, notice=notice)


async def _refuse(
    conn: AsyncConnection,
    session: Session,
    shop: Shop,
    handoff_id: int,
    reason: str,
    draft: str = "",
) -> Response:
    handoff = await queries.thread(conn, handoff_id)
    if handoff is None:
        return not_found()
    status = 422 if reason in ("empty", "too_long") else 409
    return _show(session, shop, handoff, status=status, error=REFUSALS[reason], draft=draft)


async def _reply(request: Request, conn: AsyncConnection, session: Session, shop: Shop) -> Response:
    """The admin's answer, to the customer's WhatsApp through the relay."""
    handoff_id = path_id(request, "handoff_id")
    if handoff_id is None:
        return not_found()
    text = (field(form_of(request), "text") or "").strip()
    check = await queries.check_reply(conn, handoff_id)
    if check == "not_found":
        return not_found()
    if check != "ok":
        return await _refuse(conn, session, shop, handoff_id, check, text)
    if not text:
        return await _refuse(conn, session, shop, handoff_id, "empty")
    if len(text) > TEXT_BODY_MAX:
        return await _refuse(conn, session, shop, handoff_id, "too_long", text)
    await relay.answer(conn, shop, handoff_id, wa_id_of(session.phone), text)
    return RedirectResponse(f"{PREFIX}/conversations/{handoff_id}?ok=sent", status_code=303)


async def _close(request: Request, conn: AsyncConnection, session: Session, shop: Shop) -> Response:
    """End the conversation: the customer is back at the bot's menu and told so."""
    handoff_id = path_id(request, "handoff_id")
    if handoff_id is None:
        return not_found()
    status = await queries.status_of(conn, handoff_id)
    if status is None:
        return not_found()
    if status == "closed":
        return await _refuse(conn, session, shop, handoff_id, "closed")
    await relay.close(conn, shop, handoff_id, wa_id_of(session.phone))
    return RedirectResponse(f"{PREFIX}/conversations/{handoff_id}?ok=closed", status_code=303)


async def _media(request: Request, conn: AsyncConnection, session: Session, shop: Shop) -> Response:
    """A file the customer sent in this conversation, through a fresh short-lived link."""
    handoff_id = path_id(request, "handoff_id")
    message_id: int = request.path_params["message_id"]
    handoff = await queries.thread(conn, handoff_id) if handoff_id is not None else None
    if handoff is None or message_id not in {m.id for m in handoff.messages if m.direction == "in"}:
        return not_found()
    return await _fresh_link(request, conn, message_id)


async def _receipt(
    request: Request, conn: AsyncConnection, session: Session, shop: Shop
) -> Response:
    """The transfer receipt of an order, through a fresh short-lived link."""
    order_id = path_id(request, "order_id")
    receipt = await receipt_of(conn, order_id) if order_id is not None else None
    if receipt is None:
        return not_found()
    return await _fresh_link(request, conn, receipt.message_id)


def routes() -> list[Route]:
    return [
        Route("/conversations", signed_in(_list), methods=["GET"]),
        Route("/conversations/{handoff_id:int}", signed_in(_thread_page), methods=["GET"]),
        Route("/conversations/{handoff_id:int}/reply", signed_in(_reply), methods=["POST"]),
        Route("/conversations/{handoff_id:int}/close", signed_in(_close), methods=["POST"]),
        Route(
            "/conversations/{handoff_id:int}/media/{message_id:int}",
            signed_in(_media),
            methods=["GET"],
        ),
        # The order page links here (templates/order.html).
        Route("/orders/{order_id:int}/receipt", signed_in(_receipt), methods=["GET"]),
    ]

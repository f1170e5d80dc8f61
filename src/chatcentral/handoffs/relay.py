"""A human handoff that reaches a human: the customer's messages relayed to the shop's
admins on WhatsApp, and the admins' answers relayed back, all inside the transaction of
the message that caused them (the outbox sends them after commit).

Customer → staff (`forward`, `opened`, `customer_left`): while a handoff is open each
message of the customer goes to every admin — to the one who took it, once one did —
under the customer's name and the handoff's number; media travel as media (outbox kind
`relay_media`: the dispatcher downloads and uploads them at send time). An admin whose
24-hour window is closed (no message from them in 24 hours, `staff.last_inbound_at`)
gets the `cliente_espera` template instead; inside the window the template rides along
as the outbox row's `fallback`, sent if Meta still answers 131047. Every relayed message
is a `messages` row with `handoff_id`, so an admin's WhatsApp reply quoting it
(`quoted_handoff`) finds the handoff.

Media and the media store (`media/`): the relay sends the customer's photo itself, not a
link to our stored copy. It runs in the webhook's transaction, before the media job has
fetched anything, and a photo in the admin's WhatsApp is what they want; a stored copy
is there afterwards for the panel or the API (`media.staff_links.media_link`).

Staff → customer (`answer`, `close`, `open_handoffs`): called by the admin's unit of
work (`inbound/staff.py`). The first admin to answer takes the handoff and the others
are told who did; closing puts the customer back at the bot's main menu.

Locks, always in this order: the customer's session row, then the handoff row (the
customer's unit of work holds the session when it relays), so the two sides never wait
for each other in a circle.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    BigInteger,
    Text,
    bindparam,
    case,
    func,
    null,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncConnection

from chatcentral.conversation import handoff_views as views
from chatcentral.conversation.events import Event
from chatcentral.conversation.flow import effective, shipped_flow
from chatcentral.conversation.handoff_views import HandoffBrief, Relayed
from chatcentral.conversation.shop import Shop
from chatcentral.handoffs.tickets import Closed, open_handoff
from chatcentral.metrics import HANDOFF_ANSWERS, HANDOFF_RELAYED
from chatcentral.models.tenant import Customer, CustomerSession, Handoff, Message, Staff
from chatcentral.notifications.templates import TemplateSpec, for_shop
from chatcentral.notifications.window import WINDOW, open_windows
from chatcentral.outbox import enqueue
from chatcentral.outbox.media import RELAY_MEDIA
from chatcentral.phones import InvalidPhone, normalize_phone, wa_id_of
from chatcentral.whatsapp import outbound

log = logging.getLogger(__name__)

# The template for news of a customer while an admin's 24-hour window is closed
# (flows/templates/cliente_espera.yaml); a shop may name its own approved copy.
TEMPLATE = "cliente_espera"
# How many open handoffs "Conversaciones abiertas" lists (waiting ones first).
LIST_MAX = 30


_OPEN_HANDOFF = (
    select(Handoff.id, Handoff.claimed_by)
    .where(
        Handoff.customer_id == bindparam("customer_id", type_=BigInteger),
        Handoff.status != "closed",
    )
    .with_for_update()
)
# A new wait starts with the first unanswered message; each wait times out at most once.
_WAITING = (
    update(Handoff)
    .where(Handoff.id == bindparam("handoff_id", type_=BigInteger))
    .values(
        timed_out_at=case((Handoff.waiting_since.is_(None), null()), else_=Handoff.timed_out_at),
        waiting_since=func.coalesce(Handoff.waiting_since, func.now()),
    )
)
_TAG_INBOUND = (
    update(Message)
    .where(Message.wamid == bindparam("source_wamid", type_=Text), Message.direction == "in")
    .values(handoff_id=bindparam("tagged_handoff", type_=BigInteger))
)
_CUSTOMER = select(
    Customer.id.label("customer_id"), Customer.name, Customer.wa_id, Customer.bsuid
).where(Customer.id == bindparam("customer_id", type_=BigInteger))
# How the admins know each other: a name kept on the staff row, else the WhatsApp profile
# name the admin's own messages carry (every sender is touched as a customer first).
_STAFF_NAMES = select(
    Customer.wa_id,
    func.coalesce(
        select(Staff.context["name"].astext).where(Staff.wa_id == Customer.wa_id).scalar_subquery(),
        Customer.name,
    ),
).where(Customer.wa_id.in_(bindparam("wa_ids", expanding=True)))
_QUOTED = select(Message.handoff_id).where(
    Message.wamid == bindparam("wamid", type_=Text), Message.direction == "out"
)
_PEEK = select(Handoff.customer_id).where(Handoff.id == bindparam("handoff_id", type_=BigInteger))
_LOCK_SESSION = (
    select(CustomerSession.id)
    .where(CustomerSession.customer_id == bindparam("customer_id", type_=BigInteger))
    .with_for_update()
)
_LOCK_HANDOFF = (
    select(
        Handoff.id,
        Handoff.status,
        Handoff.claimed_by,
        Customer.id.label("customer_id"),
        Customer.name,
        Customer.wa_id,
        Customer.bsuid,
        Customer.last_inbound_at,
        (Customer.last_inbound_at > func.now() - WINDOW).label("window_open"),
    )
    .join(Customer, Customer.id == Handoff.customer_id)
    .where(Handoff.id == bindparam("handoff_id", type_=BigInteger))
    .with_for_update(of=Handoff)
)
_CLAIM = (
    update(Handoff)
    .where(Handoff.id == bindparam("handoff_id", type_=BigInteger))
    .values(
        status="claimed",
        claimed_by=func.coalesce(Handoff.claimed_by, bindparam("admin", type_=Text)),
        answered_at=func.coalesce(Handoff.answered_at, func.now()),
        waiting_since=None,
        timed_out_at=None,
    )
)
_CLOSE = (
    update(Handoff)
    .where(Handoff.id == bindparam("handoff_id", type_=BigInteger))
    .values(status="closed", closed_at=func.now(), waiting_since=None)
)
# Back at the bot's menu, where the only thing offered is the menu itself ("1" shows it).
_BACK_TO_MENU = (
    update(CustomerSession)
    .where(
        CustomerSession.customer_id == bindparam("session_customer", type_=BigInteger),
        CustomerSession.state == "handoff",
    )
    .values(
        state="main_menu",
        context=CustomerSession.context.op("||", return_type=JSONB)(
            bindparam("offered", type_=JSONB)
        ),
        version=CustomerSession.version + 1,
        updated_at=func.now(),
    )
)
_OPEN_LIST = (
    select(
        Handoff.id,
        Handoff.opened_at,
        Handoff.waiting_since,
        Handoff.claimed_by,
        Customer.name,
        Customer.wa_id,
    )
    .join(Customer, Customer.id == Handoff.customer_id)
    .where(Handoff.status != "closed")
    .order_by(Handoff.waiting_since.asc().nulls_last(), Handoff.id.desc())
    .limit(LIST_MAX)
)


@dataclass(frozen=True)
class _Customer:
    id: int
    label: str
    wa_id: str | None
    bsuid: str | None

    @property
    def address(self) -> dict[str, str]:
        return {"to": "+" + self.wa_id} if self.wa_id else {"recipient": self.bsuid or ""}

    @property
    def recipient_key(self) -> str:
        return self.wa_id or self.bsuid or ""


# --- customer → staff --------------------------------------------------------------------


async def forward(
    conn: AsyncConnection, shop: Shop, customer_id: int, event: Event, source_wamid: str
) -> None:
    """Relay one message of a customer in a handoff to the shop's admins."""
    texts = _texts(shop)
    customer = await _customer(conn, customer_id)
    current = (await conn.execute(_OPEN_HANDOFF, {"customer_id": customer_id})).first()
    if current is None:
        # The session says "with a person" but no ticket is open (closed elsewhere): the
        # customer is still waiting for someone, so open one and say so first.
        handoff_id = await open_handoff(conn, customer_id, "handoff")
        if handoff_id is None:  # pragma: no cover - the row lock above rules it out
            return
        await _announce(conn, shop, texts, customer, handoff_id)
        claimed_by = None
    else:
        handoff_id, claimed_by = int(current.id), current.claimed_by
    await conn.execute(_WAITING, {"handoff_id": handoff_id})
    await conn.execute(_TAG_INBOUND, {"source_wamid": source_wamid, "tagged_handoff": handoff_id})
    summary = views.describe(texts, event)
    parts = views.relay_messages(texts, event, customer.label, handoff_id)
    recipients = _recipients(shop, claimed_by)
    await _send_to_staff(conn, shop, handoff_id, recipients, parts, customer.label, summary)
    HANDOFF_RELAYED.labels(kind=event.kind).inc()


async def opened(conn: AsyncConnection, shop: Shop, customer_id: int, handoff_id: int) -> None:
    """Tell every admin that a customer asked for a person (with a button to close)."""
    await _announce(conn, shop, _texts(shop), await _customer(conn, customer_id), handoff_id)


async def customer_left(
    conn: AsyncConnection, shop: Shop, customer_id: int, closed: Closed
) -> None:
    """The customer went back to the bot's menu: tell whoever would have answered (free
    form only: this news is not worth a template)."""
    texts = _texts(shop)
    customer = await _customer(conn, customer_id)
    body = views.fill(texts, "staff.handoff.left", customer=customer.label, number=closed.id)
    recipients = _recipients(shop, closed.claimed_by)
    for admin in await _windows_open(conn, recipients):
        await _queue(conn, shop, admin, closed.id, Relayed(outbound.text(body)), None)


async def _announce(
    conn: AsyncConnection, shop: Shop, texts: Mapping[str, str], customer: _Customer, number: int
) -> None:
    message = views.opened_message(texts, customer.label, number, customer.wa_id)
    summary = texts["staff.handoff.asked"]
    await _send_to_staff(
        conn, shop, number, _recipients(shop, None), [Relayed(message)], customer.label, summary
    )


async def _send_to_staff(
    conn: AsyncConnection,
    shop: Shop,
    handoff_id: int,
    recipients: list[str],
    parts: list[Relayed],
    customer: str,
    summary: str,
) -> None:
    if not recipients:
        log.warning("shop %s: handoff #%d: the shop has no admin phones", shop.slug, handoff_id)
        return
    template = _template(shop).message(
        views.waiting_params(customer, handoff_id, summary), views.waiting_payloads(handoff_id)
    )
    window_open = await _windows_open(conn, recipients)
    for admin in recipients:
        if admin not in window_open:
            await _queue(conn, shop, admin, handoff_id, Relayed(template), None)
            continue
        for index, part in enumerate(parts):
            # The template stands in for the first part only: one piece of news, once.
            await _queue(conn, shop, admin, handoff_id, part, template if index == 0 else None)


# --- staff → customer --------------------------------------------------------------------


async def quoted_handoff(conn: AsyncConnection, quoted_wamid: str) -> int | None:
    """The handoff a message an admin replied to (WhatsApp's `context.id`) belongs to."""
    value = (await conn.execute(_QUOTED, {"wamid": quoted_wamid})).scalar()
    return int(value) if value is not None else None


async def answer(
    conn: AsyncConnection,
    shop: Shop,
    handoff_id: int,
    admin_wa_id: str,
    text: str,
    *,
    admin_name: str | None = None,
    media: Mapping[str, Any] | None = None,
) -> list[str]:
    """Send an admin's `text` to the customer of handoff `handoff_id` from the shop's
    number (with `media`, the event details of a photo or file the admin sent, that media
    with `text` as its caption); the first admin to answer takes the handoff and the
    others are told. A closed or unknown handoff is refused. Returns what to tell the
    admin who answered (nothing more once the handoff is theirs)."""
    texts = _texts(shop)
    row = (await conn.execute(_LOCK_HANDOFF, {"handoff_id": handoff_id})).first()
    if row is None:
        return [views.fill(texts, "staff.handoff.unknown", number=handoff_id)]
    customer = _customer_of(row)
    if row.status == "closed":
        return [views.fill(texts, "staff.handoff.already_closed", number=handoff_id)]
    body = text.strip()
    forwarded = views.answer_media(media, body) if media else None
    if not body and forwarded is None:
        return [views.fill(texts, "staff.handoff.empty", number=handoff_id)]
    if not row.window_open:
        return [
            views.fill(texts, "staff.handoff.window", customer=customer.label, number=handoff_id)
        ]
    if forwarded is not None:
        await _queue_to_customer(conn, shop, customer, handoff_id, forwarded, RELAY_MEDIA)
    else:
        message = outbound.text(body[: outbound.TEXT_BODY_MAX])
        await _queue_to_customer(conn, shop, customer, handoff_id, message)
    await conn.execute(_CLAIM, {"handoff_id": handoff_id, "admin": admin_wa_id})
    HANDOFF_ANSWERS.inc()
    if row.claimed_by is not None:
        return []
    name = admin_name or (await _staff_names(conn, [admin_wa_id])).get(admin_wa_id)
    taken = views.fill(
        texts,
        "staff.handoff.taken",
        admin=name or f"+{admin_wa_id}",
        number=handoff_id,
        customer=customer.label,
    )
    others = [admin for admin in _admins(shop) if admin != admin_wa_id]
    for admin in await _windows_open(conn, others):
        await _queue(conn, shop, admin, handoff_id, Relayed(outbound.text(taken)), None)
    return [views.fill(texts, "staff.handoff.claimed", customer=customer.label, number=handoff_id)]


async def close(
    conn: AsyncConnection,
    shop: Shop,
    handoff_id: int,
    admin_wa_id: str,
    *,
    admin_name: str | None = None,
) -> list[str]:
    """End handoff `handoff_id`: the customer is back at the bot's main menu and told so,
    the other admins hear who closed it. Returns what to tell the admin who closed it."""
    texts = _texts(shop)
    customer_id = (await conn.execute(_PEEK, {"handoff_id": handoff_id})).scalar()
    if customer_id is None:
        return [views.fill(texts, "staff.handoff.unknown", number=handoff_id)]
    # The session first, as the customer's own unit of work takes it (see the module doc).
    await conn.execute(_LOCK_SESSION, {"customer_id": customer_id})
    row = (await conn.execute(_LOCK_HANDOFF, {"handoff_id": handoff_id})).one()
    if row.status == "closed":
        return [views.fill(texts, "staff.handoff.already_closed", number=handoff_id)]
    customer = _customer_of(row)
    await conn.execute(_CLOSE, {"handoff_id": handoff_id})
    offered = {"options": [[views.BACK_TO_MENU, texts["nav.menu"]]], "misses": 0}
    await conn.execute(_BACK_TO_MENU, {"session_customer": customer_id, "offered": offered})
    if row.window_open:
        ended = views.ended_message(texts, shop.name)
        await _queue_to_customer(conn, shop, customer, handoff_id, ended)
    name = admin_name or (await _staff_names(conn, [admin_wa_id])).get(admin_wa_id)
    news = views.fill(
        texts,
        "staff.handoff.closed_by",
        admin=name or f"+{admin_wa_id}",
        number=handoff_id,
        customer=customer.label,
    )
    others = [admin for admin in _recipients(shop, row.claimed_by) if admin != admin_wa_id]
    for admin in await _windows_open(conn, others):
        await _queue(conn, shop, admin, handoff_id, Relayed(outbound.text(news)), None)
    return [views.fill(texts, "staff.handoff.closed", number=handoff_id, customer=customer.label)]


async def open_handoffs(conn: AsyncConnection, shop: Shop) -> list[HandoffBrief]:
    """The shop's open handoffs for "Conversaciones abiertas": the ones waiting for an
    answer first (longest wait first), then the others, newest first."""
    rows = (await conn.execute(_OPEN_LIST)).all()
    names = await _staff_names(conn, [row.claimed_by for row in rows if row.claimed_by])
    return [
        HandoffBrief(
            id=int(row.id),
            customer=views.customer_label(row.name, row.wa_id),
            phone=row.wa_id,
            opened_at=row.opened_at,
            waiting_since=row.waiting_since,
            claimed_by=(names.get(row.claimed_by) or f"+{row.claimed_by}")
            if row.claimed_by
            else None,
        )
        for row in rows
    ]


# --- helpers -----------------------------------------------------------------------------


def _texts(shop: Shop) -> Mapping[str, str]:
    return effective(shipped_flow(shop.flow), shop.settings)[1]


def _template(shop: Shop) -> TemplateSpec:
    """`cliente_espera` as this shop sends it (its own approved name or language)."""
    settings = effective(shipped_flow(shop.flow), shop.settings)[0]
    return for_shop(TEMPLATE, settings.templates)


def _admins(shop: Shop) -> list[str]:
    """The shop's admins as WhatsApp addresses them (canonical digits), in order, once."""
    seen: list[str] = []
    for phone in shop.admin_phones:
        try:
            wa_id = wa_id_of(normalize_phone(phone))
        except InvalidPhone:
            log.warning("shop %s: admin phone %r is not a phone number", shop.slug, phone)
            continue
        if wa_id not in seen:
            seen.append(wa_id)
    return seen


def _recipients(shop: Shop, claimed_by: str | None) -> list[str]:
    """Everyone until an admin takes the handoff; then that admin alone (everyone again
    if they are no longer an admin of the shop)."""
    admins = _admins(shop)
    return [claimed_by] if claimed_by in admins else admins


async def _windows_open(conn: AsyncConnection, wa_ids: Iterable[str]) -> list[str]:
    """The admins among `wa_ids` who may get free-form messages now (24-hour window)."""
    wanted = list(wa_ids)
    open_ = await open_windows(conn, wanted)
    return [wa_id for wa_id in wanted if wa_id in open_]


async def _staff_names(conn: AsyncConnection, wa_ids: list[str]) -> dict[str, str]:
    if not wa_ids:
        return {}
    rows = (await conn.execute(_STAFF_NAMES, {"wa_ids": wa_ids})).all()
    return {row[0]: row[1] for row in rows if row[1]}


async def _customer(conn: AsyncConnection, customer_id: int) -> _Customer:
    return _customer_of((await conn.execute(_CUSTOMER, {"customer_id": customer_id})).one())


def _customer_of(row: Any) -> _Customer:
    return _Customer(
        int(row.customer_id), views.customer_label(row.name, row.wa_id), row.wa_id, row.bsuid
    )


async def _queue(
    conn: AsyncConnection,
    shop: Shop,
    admin: str,
    handoff_id: int,
    part: Relayed,
    fallback: dict[str, Any] | None,
) -> None:
    address = {"to": "+" + admin}
    await enqueue.queue_message(
        conn,
        shop.id,
        RELAY_MEDIA if part.media else "message",
        admin,
        part.message,
        outbound.envelope(part.message, **address),
        fallback=outbound.envelope(fallback, **address) if fallback else None,
        handoff_id=handoff_id,
    )


async def queue_to_customer(
    conn: AsyncConnection,
    shop: Shop,
    customer_id: int,
    wa_id: str | None,
    bsuid: str | None,
    handoff_id: int,
    message: dict[str, Any],
) -> None:
    """Queue a message of the handoff for its customer (by phone, else by BSUID)."""
    await _queue_to_customer(
        conn, shop, _Customer(customer_id, "", wa_id, bsuid), handoff_id, message
    )


async def _queue_to_customer(
    conn: AsyncConnection,
    shop: Shop,
    customer: _Customer,
    handoff_id: int,
    message: dict[str, Any],
    kind: str = "message",
) -> None:
    await enqueue.queue_message(
        conn,
        shop.id,
        kind,
        customer.recipient_key,
        message,
        outbound.envelope(message, **customer.address),
        customer_id=customer.id,
        handoff_id=handoff_id,
    )


__all__ = [
    "TEMPLATE",
    "answer",
    "close",
    "customer_left",
    "forward",
    "open_handoffs",
    "opened",
    "queue_to_customer",
    "quoted_handoff",
]

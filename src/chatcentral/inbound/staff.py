"""A message from one of the shop's admins, in the same transaction as any message.

The admin's `staff` row is created or touched (its 24-hour window starts again) and
locked, so one admin's messages are handled one at a time; the command read from the
message (`conversation/staff.py`) is carried out with the orders and handoffs functions
every other entry point uses; the answers are queued to the admin. "Ver como cliente"
hands the admin's messages to the customer flow until they type "salir".
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Integer, Text, bindparam, func, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from chatcentral.conversation import handoff_views
from chatcentral.conversation import staff_views as views
from chatcentral.conversation.events import MEDIA, TEXT, event_from
from chatcentral.conversation.flow import effective, shipped_flow
from chatcentral.conversation.shop import Shop
from chatcentral.conversation.staff import (
    AnswerHandoff,
    ChangeStatus,
    CloseHandoff,
    Help,
    ListHandoffs,
    ListOrders,
    ShowMenu,
    ShowOrder,
    ViewAsCustomer,
    read_command,
)
from chatcentral.conversation.text_input import normalize
from chatcentral.handoffs import relay
from chatcentral.models.tenant import Staff
from chatcentral.orders.queries import order_detail, pending_orders
from chatcentral.orders.status import StatusChanged, change_status
from chatcentral.whatsapp import outbound
from chatcentral.whatsapp.payloads import InboundMessage

Message = dict[str, Any]
_LEAVE_CUSTOMER_VIEW = {"salir", "salir del modo cliente", "panel", "admin"}

_TOUCH = (
    pg_insert(Staff)
    .values(wa_id=bindparam("wa_id", type_=Text), last_inbound_at=func.now())
    .on_conflict_do_update(index_elements=[Staff.wa_id], set_={"last_inbound_at": func.now()})
    .returning(Staff.id, Staff.context, Staff.undelivered)
)
_SAVE = (
    update(Staff)
    .where(Staff.id == bindparam("staff_id", type_=Integer))
    .values(context=bindparam("context", type_=JSONB), undelivered=0)
)


class StaffService:
    async def handle(
        self, conn: AsyncConnection, shop: Shop, wa_id: str, message: InboundMessage
    ) -> list[Message] | None:
        """The replies to an admin's message, or None when the admin is looking at the
        shop as a customer and this message is for the customer flow."""
        staff = (await conn.execute(_TOUCH, {"wa_id": wa_id})).one()
        context: dict[str, Any] = dict(staff.context or {})
        _, texts = effective(shipped_flow(shop.flow), shop.settings)
        texts = {**texts, "staff.menu.body": texts["staff.menu.body"].replace("{shop}", shop.name)}
        event = event_from(message)
        if context.get("as_customer"):
            if event.kind != TEXT or normalize(event.text or "") not in _LEAVE_CUSTOMER_VIEW:
                return None
            context["as_customer"] = False
            replies = [views.text(texts, "staff.back"), views.menu(texts)]
        else:
            # A reply to a message relayed from a handoff (WhatsApp's `context.id`).
            quoted_id = message.context.id if message.context is not None else None
            quoted = await relay.quoted_handoff(conn, quoted_id) if quoted_id else None
            replies = await self._carry_out(conn, shop, wa_id, event, texts, context, quoted)
            if staff.undelivered:
                replies.insert(0, views.text(texts, "staff.undelivered", count=staff.undelivered))
        await conn.execute(_SAVE, {"staff_id": staff.id, "context": context})
        return replies

    async def _carry_out(
        self,
        conn: AsyncConnection,
        shop: Shop,
        wa_id: str,
        event: Any,
        texts: dict[str, str],
        context: dict[str, Any],
        quoted: int | None = None,
    ) -> list[Message]:
        tz = ZoneInfo(shop.timezone)
        match read_command(event, replying_to_handoff=quoted is not None):
            case ShowMenu():
                return [views.menu(texts)]
            case ListOrders(page=page):
                return [views.orders_list(texts, await pending_orders(conn), page, tz)]
            case ShowOrder(order_id=order_id):
                detail = await order_detail(conn, order_id)
                if detail is None:
                    return [views.status_refused(texts, order_id, "not_found", None)]
                return [views.order_detail(texts, detail, tz)]
            case ChangeStatus(order_id=order_id, status=status, note=note):
                result = await change_status(
                    conn, shop, order_id, status, actor=f"admin:+{wa_id}", note=note
                )
                if isinstance(result, StatusChanged):
                    return [views.status_changed(texts, order_id, result.current)]
                return [views.status_refused(texts, order_id, result.reason, result.current)]
            case ListHandoffs():
                briefs = await relay.open_handoffs(conn, shop)
                return [handoff_views.handoffs_list(texts, briefs, tz, datetime.now(UTC))]
            case AnswerHandoff(handoff_id=handoff_id, text=body):
                target = handoff_id if handoff_id is not None else quoted
                if target is None:
                    return [views.text(texts, "staff.unknown"), views.menu(texts)]
                media = event.details if event.kind == MEDIA else None
                said = await relay.answer(conn, shop, target, wa_id, body, media=media)
                return [outbound.text(line) for line in said]
            case CloseHandoff(handoff_id=handoff_id):
                target = handoff_id if handoff_id is not None else quoted
                if target is None:
                    return [views.text(texts, "staff.unknown"), views.menu(texts)]
                return [
                    outbound.text(line) for line in await relay.close(conn, shop, target, wa_id)
                ]
            case ViewAsCustomer():
                context["as_customer"] = True
                return [views.text(texts, "staff.as_customer")]
            case Help():
                return [views.text(texts, "staff.help"), views.menu(texts)]
        return [views.text(texts, "staff.unknown"), views.menu(texts)]

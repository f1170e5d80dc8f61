"""Views: what the customer sees on entering a state, built from texts, settings and facts.

A view returns WhatsApp message bodies (through the outbound builders, so every one is
valid before it leaves) and records the ids of the options it offered, so a typed
"2" means the second option shown. Long catalogs paginate with a "Ver más" row.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from chatcentral.conversation import cart
from chatcentral.conversation.facts import OrderSummary
from chatcentral.conversation.model import WEEKDAYS
from chatcentral.whatsapp import outbound
from chatcentral.whatsapp.outbound import Button, Row, Section

if TYPE_CHECKING:
    from chatcentral.conversation.machine import Conversation

Message = dict[str, Any]
View = Callable[["Conversation"], list[Message]]

# WhatsApp's limits, from their one home in `whatsapp/outbound.py`.
TITLE_MAX = outbound.ROW_TITLE_MAX
DESCRIPTION_MAX = outbound.ROW_DESCRIPTION_MAX
BUTTON_MAX = outbound.BUTTON_TITLE_MAX
_DAY_NAMES = {
    "mon": "lun",
    "tue": "mar",
    "wed": "mié",
    "thu": "jue",
    "fri": "vie",
    "sat": "sáb",
    "sun": "dom",
}


def clip(text: str, limit: int) -> str:
    """Shorten to `limit` characters with an ellipsis (titles have hard limits)."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _list(
    convo: Conversation, body: str, button: str, rows: list[Row], section: str | None = None
) -> Message:
    convo.offer([(row.id, row.title) for row in rows])
    return outbound.list_message(
        body,
        clip(button, outbound.LIST_BUTTON_MAX),
        [Section(title=section and clip(section, outbound.SECTION_TITLE_MAX), rows=rows)],
    )


def _buttons(
    convo: Conversation, body: str, buttons: list[Button], image_key: str | None = None
) -> Message:
    convo.offer([(button.id, button.title) for button in buttons])
    return outbound.reply_buttons(body, buttons, image_key=image_key)


def _title(convo: Conversation, key: str, limit: int = TITLE_MAX) -> str:
    """A text used as a title: shortened to WhatsApp's limit at run time (a shop's own
    wording never breaks a conversation) and reported to `flows check`."""
    text = convo.text(key)
    if len(text) > limit:
        convo.too_long.append(f"text {key!r} is {len(text)} characters; this title allows {limit}")
    return clip(text, limit)


def _button(convo: Conversation, id: str, key: str) -> Button:
    return Button(id, _title(convo, key, BUTTON_MAX))


def _paged(convo: Conversation, rows: list[Row], page_id: str) -> tuple[list[Row], bool]:
    if not rows:
        return rows, False
    # The catalog may have shrunk since the customer asked for "Ver más": stay in range.
    page = min(int(convo.context.get("page", 0)), outbound.last_page(len(rows)))
    convo.context["page"] = page
    return outbound.paginate(rows, page, more_id=page_id, more_title=convo.text("more"))


# --- menus -------------------------------------------------------------------------------


def main_menu(convo: Conversation) -> list[Message]:
    rows = [
        Row("menu:catalog", _title(convo, "menu.catalog")),
        Row("menu:order", _title(convo, "menu.order")),
        Row("menu:status", _title(convo, "menu.status")),
        Row("menu:agent", _title(convo, "menu.agent")),
    ]
    last = convo.facts.customer.last_order
    if last is not None:
        rows.append(
            Row(
                "menu:repeat",
                _title(convo, "menu.repeat"),
                clip(_order_line(last), DESCRIPTION_MAX),
            )
        )
    return [
        _list(
            convo,
            convo.text("main_menu.body"),
            convo.text("main_menu.button"),
            rows,
            convo.text("main_menu.section"),
        )
    ]


# --- catalog -----------------------------------------------------------------------------


def categories(convo: Conversation) -> list[Message]:
    catalog = convo.facts.catalog
    with_products = [c for c in catalog.categories if catalog.in_category(c.id)]
    if not with_products:
        convo.context["options"] = []
        return [outbound.text(convo.text("catalog.empty"))]
    rows = [Row(f"cat:{c.id}", clip(c.name, TITLE_MAX)) for c in with_products]
    shown, _ = _paged(convo, rows, "page:next")
    return [_list(convo, convo.text("categories.body"), convo.text("categories.button"), shown)]


def products(convo: Conversation) -> list[Message]:
    catalog = convo.facts.catalog
    category_id = convo.context.get("category_id")
    items = (
        catalog.in_category(int(category_id)) if category_id is not None else list(catalog.products)
    )
    rows = [
        Row(
            f"prod:{p.id}",
            clip(p.name, TITLE_MAX),
            clip(
                f"{cart.money(p.price)} / {cart.UNIT_LABELS[p.unit][0]}"
                + (f" · {p.name}" if len(p.name) > TITLE_MAX else ""),
                DESCRIPTION_MAX,
            ),
        )
        for p in items
    ]
    shown, _ = _paged(convo, rows, "page:next")
    category = next((c.name for c in catalog.categories if c.id == category_id), None)
    body = convo.text("products.body", category=category or convo.text("products.all"))
    return [_list(convo, body, convo.text("products.button"), shown)]


def product_detail(convo: Conversation) -> list[Message]:
    product = convo.current_product()
    body = convo.text(
        "product.detail",
        name=product.name,
        description=product.description or "",
        price=cart.money(product.price),
        unit=cart.UNIT_LABELS[product.unit][0],
    )
    return [
        _buttons(
            convo,
            body.replace("\n\n\n", "\n\n"),
            [
                _button(convo, "product:add", "product.add"),
                _button(convo, "nav:products", "product.back"),
                _button(convo, "nav:cart", "product.cart"),
            ],
            # Its photo, when it has one: the dispatcher links it at send time.
            image_key=product.image_key,
        )
    ]


def quantity_prompt(convo: Conversation) -> list[Message]:
    product = convo.current_product()
    convo.context["options"] = []
    key = "quantity.ask_fractional" if product.unit in cart.FRACTIONAL_UNITS else "quantity.ask"
    return [
        outbound.text(convo.text(key, name=product.name, unit=cart.UNIT_LABELS[product.unit][1]))
    ]


# --- cart --------------------------------------------------------------------------------


def cart_view(convo: Conversation) -> list[Message]:
    body = convo.text(
        "cart.body",
        lines="\n".join(cart.summary_lines(convo.context)),
        subtotal=cart.money(cart.subtotal(convo.context)),
    )
    rows = [
        Row("cart:checkout", _title(convo, "cart.checkout")),
        Row("cart:add", _title(convo, "cart.add_more")),
        Row("cart:remove", _title(convo, "cart.remove")),
        Row("cart:clear", _title(convo, "cart.clear")),
    ]
    return [_list(convo, clip(body, outbound.LIST_BODY_MAX), convo.text("cart.button"), rows)]


def cart_items(convo: Conversation) -> list[Message]:
    rows = [
        Row(
            f"item:{line.product_id}",
            clip(line.name, TITLE_MAX),
            clip(cart.quantity_label(line.quantity, line.unit), DESCRIPTION_MAX),
        )
        for line in cart.lines(convo.context)
    ][: outbound.LIST_ROWS_MAX]
    return [_list(convo, convo.text("remove.body"), convo.text("remove.button"), rows)]


# --- checkout ----------------------------------------------------------------------------


def fulfillment(convo: Conversation) -> list[Message]:
    buttons = [
        _button(convo, f"ful:{choice}", f"fulfillment.{choice}")
        for choice in convo.settings.fulfillment
    ]
    return [_buttons(convo, convo.text("fulfillment.body"), buttons)]


def addresses(convo: Conversation) -> list[Message]:
    saved = convo.facts.customer.addresses[:9]
    rows = [
        Row(
            f"addr:{a.id}",
            clip(a.text or convo.text("address.pin"), TITLE_MAX),
            clip(a.text or "", DESCRIPTION_MAX) or None,
        )
        for a in saved
    ]
    rows.append(Row("addr:new", _title(convo, "address.new")))
    return [_list(convo, convo.text("address.saved_body"), convo.text("address.button"), rows)]


def address_request(convo: Conversation) -> list[Message]:
    convo.context["options"] = []
    return [outbound.location_request(convo.text("address.ask"))]


def out_of_zone(convo: Conversation) -> list[Message]:
    buttons = [_button(convo, "addr:new", "out_of_zone.other")]
    if "pickup" in convo.settings.fulfillment:
        buttons.insert(0, _button(convo, "ful:pickup", "out_of_zone.pickup"))
    buttons.append(_button(convo, "nav:menu", "nav.menu"))
    return [_buttons(convo, convo.text("out_of_zone.body"), buttons)]


def slots(convo: Conversation) -> list[Message]:
    rows = [Row(f"slot:{slot.id}", slot.title) for slot in convo.settings.delivery_slots][
        : outbound.LIST_ROWS_MAX
    ]
    return [_list(convo, convo.text("slot.body"), convo.text("slot.button"), rows)]


def payment(convo: Conversation) -> list[Message]:
    buttons = [
        _button(convo, f"pay:{method}", f"payment.{method}")
        for method in convo.settings.payment_methods
    ]
    body = convo.text("payment.body", total=cart.money(convo.total()))
    return [_buttons(convo, body, buttons)]


def cash(convo: Conversation) -> list[Message]:
    body = convo.text("cash.ask", total=cart.money(convo.total()))
    return [_buttons(convo, body, [_button(convo, "cash:exact", "cash.exact")])]


def receipt(convo: Conversation) -> list[Message]:
    body = convo.text(
        "transfer.details", total=cart.money(convo.total()), bank=convo.settings.bank_details
    )
    return [_buttons(convo, body, [_button(convo, "receipt:later", "transfer.later")])]


def notes(convo: Conversation) -> list[Message]:
    return [_buttons(convo, convo.text("notes.ask"), [_button(convo, "notes:none", "notes.none")])]


def empties(convo: Conversation) -> list[Message]:
    convo.context["options"] = []
    held = convo.facts.customer.jugs_held
    return [outbound.text(convo.text("empties.ask", held=held, refills=convo.refills()))]


def summary(convo: Conversation) -> list[Message]:
    body = convo.text(
        "summary.body",
        lines="\n".join(convo.summary_lines()),
        total=cart.money(convo.total()),
        fulfillment=convo.describe_fulfillment(),
        payment=convo.describe_payment(),
        notes=convo.context.get("notes") or "—",
    )
    opening = convo.opening_phrase()
    if opening:
        body = convo.text("hours.order_later", opening=opening) + "\n\n" + body
    buttons = [
        _button(convo, "order:confirm", "summary.confirm"),
        _button(convo, "order:edit", "summary.edit"),
        _button(convo, "order:cancel", "summary.cancel"),
    ]
    return [_buttons(convo, clip(body, outbound.INTERACTIVE_BODY_MAX), buttons)]


def placing(convo: Conversation) -> list[Message]:
    convo.context["options"] = []
    return []


def usual(convo: Conversation) -> list[Message]:
    last = convo.facts.customer.last_order
    assert last is not None  # the transition into this state requires it
    body = convo.text("usual.body", order=_order_line(last), total=cart.money(last.total))
    return [
        _buttons(
            convo,
            body,
            [
                _button(convo, "usual:yes", "usual.yes"),
                _button(convo, "usual:other", "usual.other"),
            ],
        )
    ]


# --- orders, people, leaving -------------------------------------------------------------


def order_status(convo: Conversation) -> list[Message]:
    orders = convo.facts.orders
    chosen = convo.context.get("order_id")
    order = next((o for o in orders if o.id == chosen), orders[0])
    buttons = [_button(convo, "nav:menu", "nav.menu")]
    if len(orders) > 1:
        buttons.insert(0, _button(convo, "status:previous", "status.previous"))
    return [_buttons(convo, _order_details(convo, order), buttons)]


def orders_list(convo: Conversation) -> list[Message]:
    rows = [
        Row(
            f"order:{o.id}",
            f"Pedido #{o.id}",
            clip(
                f"{_local(convo, o.created_at):%d/%m/%Y} · {cart.money(o.total)} · {o.status}",
                DESCRIPTION_MAX,
            ),
        )
        for o in convo.facts.orders[:9]
    ]
    rows.append(Row("nav:menu", _title(convo, "nav.menu")))
    return [_list(convo, convo.text("orders.body"), convo.text("orders.button"), rows)]


def handoff(convo: Conversation) -> list[Message]:
    convo.context["options"] = []
    text = convo.text("handoff.open")
    if not convo.is_open():
        opening = convo.opening_phrase() or "—"
        text += "\n\n" + convo.text(
            "handoff.closed", hours=week_line(convo.shop.business_hours), opening=opening
        )
    return [outbound.text(text + "\n\n" + convo.text("handoff.back"))]


def confirm_cancel(convo: Conversation) -> list[Message]:
    body = convo.text("cancel.ask", count=cart.count(convo.context))
    return [
        _buttons(
            convo,
            body,
            [_button(convo, "cancel:yes", "cancel.yes"), _button(convo, "cancel:no", "cancel.no")],
        )
    ]


def resume(convo: Conversation) -> list[Message]:
    body = convo.text("resume.body", count=cart.count(convo.context))
    return [
        _buttons(
            convo,
            body,
            [
                _button(convo, "resume:yes", "resume.continue"),
                _button(convo, "resume:no", "resume.restart"),
            ],
        )
    ]


def agent_offer(convo: Conversation) -> list[Message]:
    return [
        _buttons(
            convo,
            convo.text("error.offer_agent"),
            [_button(convo, "menu:agent", "menu.agent"), _button(convo, "nav:menu", "nav.menu")],
        )
    ]


# --- helpers -----------------------------------------------------------------------------


def _order_line(order: OrderSummary, limit: int = 300) -> str:
    """The order's items on one line, shortened to fit a message body."""
    parts = [f"{cart.quantity_label(line.quantity, line.unit)} {line.name}" for line in order.lines]
    return clip(", ".join(parts), limit)


def _local(convo: Conversation, moment: datetime) -> datetime:
    return moment.astimezone(ZoneInfo(convo.shop.timezone))


def _order_details(convo: Conversation, order: OrderSummary) -> str:
    shown = [
        clip(f"• {cart.quantity_label(line.quantity, line.unit)} {line.name}", 60)
        for line in order.lines[:8]
    ]
    if len(order.lines) > len(shown):
        shown.append(f"• … (+{len(order.lines) - len(shown)})")
    lines = "\n".join(shown)
    return clip(
        convo.text(
            "status.latest",
            number=order.id,
            date=f"{_local(convo, order.created_at):%d/%m/%Y %H:%M}",
            lines=lines,
            total=cart.money(order.total),
            status=order.status,
            changed=f"{_local(convo, order.status_changed_at):%d/%m %H:%M}",
        ),
        outbound.INTERACTIVE_BODY_MAX,
    )


def week_line(hours: Mapping[str, Any]) -> str:
    """The weekly hours in a line, consecutive days with the same hours joined:
    "lun–vie 09:00–18:00; sáb 09:00–14:00"."""
    runs: list[tuple[str, str, str]] = []  # first day, last day, spans
    for day in WEEKDAYS:
        ranges = hours.get(day) or []
        spans = ", ".join(f"{start}–{end}" for start, end in ranges) if ranges else ""
        if runs and runs[-1][2] == spans and WEEKDAYS.index(runs[-1][1]) + 1 == WEEKDAYS.index(day):
            runs[-1] = (runs[-1][0], day, spans)
        else:
            runs.append((day, day, spans))
    parts = [
        (f"{_DAY_NAMES[first]}–{_DAY_NAMES[last]}" if first != last else _DAY_NAMES[first])
        + f" {spans}"
        for first, last, spans in runs
        if spans
    ]
    return "; ".join(parts) or "—"


VIEWS: dict[str, View] = {
    "main_menu": main_menu,
    "categories": categories,
    "products": products,
    "product_detail": product_detail,
    "quantity_prompt": quantity_prompt,
    "cart": cart_view,
    "cart_items": cart_items,
    "fulfillment": fulfillment,
    "addresses": addresses,
    "address_request": address_request,
    "out_of_zone": out_of_zone,
    "slots": slots,
    "payment": payment,
    "cash": cash,
    "receipt": receipt,
    "notes": notes,
    "empties": empties,
    "summary": summary,
    "placing": placing,
    "usual": usual,
    "order_status": order_status,
    "orders_list": orders_list,
    "handoff": handoff,
    "confirm_cancel": confirm_cancel,
    "resume": resume,
    "agent_offer": agent_offer,
}

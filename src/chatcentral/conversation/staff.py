"""What a shop's admin asks for, read from what they typed or tapped. Pure: no I/O.

Admins run the shop from their phone: a menu, typed commands ("pedidos", "pedido 123",
"pedido 123 en camino", "123 entregado", "cancelar 123 sin stock"), the buttons of an
order notification (`adm:order:<id>:<status>`), and answers to a customer in a handoff
("#12 texto", or WhatsApp's reply to a relayed message). `read_command` turns one inbound
message into one `Command`; the unit of work in `inbound/staff.py` carries it out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from chatcentral.conversation.events import REPLY, TEXT, Event
from chatcentral.conversation.text_input import normalize

# Order status codes (tenant table order_status) and the words admins use for them.
CONFIRMED = "confirmado"
PREPARING = "en_preparacion"
ON_THE_WAY = "en_camino"
DELIVERED = "entregado"
CANCELLED = "cancelado"
STATUS_WORDS: dict[str, str] = {
    "confirmado": CONFIRMED,
    "confirmar": CONFIRMED,
    "confirma": CONFIRMED,
    "aceptar": CONFIRMED,
    "en preparacion": PREPARING,
    "preparacion": PREPARING,
    "preparando": PREPARING,
    "preparar": PREPARING,
    "en camino": ON_THE_WAY,
    "camino": ON_THE_WAY,
    "enviado": ON_THE_WAY,
    "salio": ON_THE_WAY,
    "entregado": DELIVERED,
    "entregar": DELIVERED,
    "entregada": DELIVERED,
    "cancelado": CANCELLED,
    "cancelar": CANCELLED,
    "cancela": CANCELLED,
    "cancelada": CANCELLED,
}
_MENU_WORDS = {"hola", "menu", "inicio", "buenas", "buenos dias", "buenas tardes", "admin"}
_ORDERS_WORDS = {"pedidos", "pedidos pendientes", "pendientes", "ordenes"}
_HANDOFF_WORDS = {"conversaciones", "conversaciones abiertas", "chats", "asesorias"}
_CUSTOMER_WORDS = {"ver como cliente", "como cliente", "cliente"}
_HELP_WORDS = {"ayuda", "help", "comandos"}
_CLOSE_WORDS = {"cerrar", "cierra", "terminar", "fin"}
# "#12 texto": the raw text, before normalising drops the "#".
_HANDOFF_ANSWER = re.compile(r"^\s*#(\d{1,9})\s+(.+)$", re.DOTALL)
_CLOSE_BY_ID = re.compile(r"^(?:cerrar|cierra|terminar)\s+(?:conversacion\s+)?(\d{1,9})$")
_SHOW_ORDER = re.compile(r"^(?:pedido|orden)\s+(\d{1,9})$")
_ID_FIRST = re.compile(r"^(?:(?:pedido|orden)\s+)?(\d{1,9})\s+(.+)$")
_FILLER = {"pedido", "orden", "el", "la", "al"}
_PAGE = re.compile(r"^adm:orders:(\d{1,4})$")
_ORDER_REPLY = re.compile(r"^adm:order:(\d{1,9})(?::(\w+))?$")
_HANDOFF_REPLY = re.compile(r"^adm:handoff:(\d{1,9}):close$")
NOTE_MAX = 200


@dataclass(frozen=True)
class ShowMenu:
    pass


@dataclass(frozen=True)
class ListOrders:
    page: int = 0


@dataclass(frozen=True)
class ShowOrder:
    order_id: int


@dataclass(frozen=True)
class ChangeStatus:
    order_id: int
    status: str  # an order_status code
    note: str | None = None


@dataclass(frozen=True)
class ListHandoffs:
    pass


@dataclass(frozen=True)
class AnswerHandoff:
    """Text for the customer of handoff `handoff_id` (None: the one the admin replied to,
    which the caller resolves from the quoted message)."""

    handoff_id: int | None
    text: str


@dataclass(frozen=True)
class CloseHandoff:
    handoff_id: int | None


@dataclass(frozen=True)
class ViewAsCustomer:
    pass


@dataclass(frozen=True)
class Help:
    pass


@dataclass(frozen=True)
class Unknown:
    pass


Command = (
    ShowMenu
    | ListOrders
    | ShowOrder
    | ChangeStatus
    | ListHandoffs
    | AnswerHandoff
    | CloseHandoff
    | ViewAsCustomer
    | Help
    | Unknown
)


def read_command(event: Event, *, replying_to_handoff: bool = False) -> Command:
    """The admin's command in `event`. `replying_to_handoff`: the message quotes a
    customer's message relayed from a handoff, so free text is an answer to it."""
    if event.kind == REPLY and event.reply_id:
        tapped = _tapped(event.reply_id)
        if tapped is not None:
            return tapped
    if event.kind != TEXT or not event.text:
        # A photo or a location quoting a relayed message goes to the customer too.
        return AnswerHandoff(None, event.text or "") if replying_to_handoff else Unknown()
    answer = _HANDOFF_ANSWER.match(event.text)
    if answer:
        return AnswerHandoff(int(answer.group(1)), answer.group(2).strip())
    typed = normalize(event.text)
    if replying_to_handoff:
        return CloseHandoff(None) if typed in _CLOSE_WORDS else AnswerHandoff(None, event.text)
    return _typed(typed)


def _tapped(reply_id: str) -> Command | None:
    fixed: dict[str, Command] = {
        "adm:menu": ShowMenu(),
        "adm:orders": ListOrders(),
        "adm:handoffs": ListHandoffs(),
        "adm:customer": ViewAsCustomer(),
        "adm:help": Help(),
    }
    if reply_id in fixed:
        return fixed[reply_id]
    if page := _PAGE.match(reply_id):
        return ListOrders(int(page.group(1)))
    if order := _ORDER_REPLY.match(reply_id):
        status = order.group(2)
        if status is None:
            return ShowOrder(int(order.group(1)))
        return ChangeStatus(int(order.group(1)), status) if status in STATUS_CODES else None
    if handoff := _HANDOFF_REPLY.match(reply_id):
        return CloseHandoff(int(handoff.group(1)))
    return None


STATUS_CODES = frozenset(STATUS_WORDS.values())


def _typed(typed: str) -> Command:
    if typed in _MENU_WORDS:
        return ShowMenu()
    if typed in _ORDERS_WORDS:
        return ListOrders()
    if typed in _HANDOFF_WORDS:
        return ListHandoffs()
    if typed in _CUSTOMER_WORDS:
        return ViewAsCustomer()
    if typed in _HELP_WORDS:
        return Help()
    if close := _CLOSE_BY_ID.match(typed):
        return CloseHandoff(int(close.group(1)))
    if show := _SHOW_ORDER.match(typed):
        return ShowOrder(int(show.group(1)))
    if id_first := _ID_FIRST.match(typed):
        status, note = _status_and_note(id_first.group(2))
        if status is not None:
            return ChangeStatus(int(id_first.group(1)), status, note)
    return _verb_first(typed.split()) or Unknown()


def _verb_first(words: list[str]) -> ChangeStatus | None:
    """ "cancelar (el pedido) 123 sin stock": the status word, the number, then a note."""
    number = next((i for i, word in enumerate(words) if word.isdigit()), None)
    if number is None or len(words[number]) > 9:
        return None
    verb = " ".join(word for word in words[:number] if word not in _FILLER)
    status = STATUS_WORDS.get(verb)
    if status is None:
        return None
    note = " ".join(words[number + 1 :])[:NOTE_MAX] or None
    return ChangeStatus(int(words[number]), status, note)


def _status_and_note(words: str) -> tuple[str | None, str | None]:
    """The status a phrase starts with ("en camino", "cancelado sin stock") and the rest,
    kept as a note for the order's history."""
    for length in (2, 1):
        head = " ".join(words.split()[:length])
        if head in STATUS_WORDS:
            rest = " ".join(words.split()[length:]).strip()
            return STATUS_WORDS[head], (rest[:NOTE_MAX] or None)
    return None, None

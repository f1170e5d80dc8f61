"""What one conversation knows and can say while a message is handled.

The base of the machine's model: the state, the context (cart, address, payment…), the
facts, the texts, and the arithmetic every view, condition and action shares (fees, zones,
deposits, totals). What is said with `say` is folded into the next view's message.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from transitions import EventData

from chatcentral.conversation import hours
from chatcentral.conversation.context import Context
from chatcentral.conversation.effects import Effect
from chatcentral.conversation.facts import Facts, Product
from chatcentral.conversation.flow import FlowSpec, Settings
from chatcentral.conversation.shop import Shop
from chatcentral.whatsapp import outbound

# Keys of a shop's business hours, in `datetime.weekday()` order.
WEEKDAYS = hours.WEEKDAYS

# States the engine itself knows by name. NEW and EXPIRED are not flow states: a first
# message and an idle session are handed to the engine in them.
NEW = "new"
EXPIRED = "expired"
MAIN_MENU = "main_menu"
HANDOFF = "handoff"
CONFIRMING_CANCEL = "confirming_cancel"
OFFERING_AGENT = "offering_agent"
RESUMING = "resuming"
REVIEWING_CART = "reviewing_cart"
# Entered by the engine from any state (global commands, repeated misses, an idle
# session, a tap on an older message, a catalog cart): every flow defines them, and
# `flows check` counts them as reachable from everywhere.
ENTERED_FROM_ANYWHERE = (MAIN_MENU, CONFIRMING_CANCEL, OFFERING_AGENT, RESUMING, REVIEWING_CART)
ENGINE_STATES = (*ENTERED_FROM_ANYWHERE, HANDOFF)


def fill_text(template: str, shop_name: str, **values: Any) -> str:
    """A text with its placeholders filled as customers read it ({shop} everywhere)."""
    said = template.format(shop=shop_name, **values) if ("{" in template) else template
    if "opening" in values:
        said = said.replace(" de el ", " del ")  # "a partir de el lunes" → "del lunes"
    return said


class ConversationState:
    """One customer's conversation while one message is handled."""

    def __init__(
        self,
        flow: FlowSpec,
        settings: Settings,
        texts: dict[str, str],
        shop: Shop,
        state: str,
        context: Context,
        facts: Facts,
    ) -> None:
        self.flow = flow
        self.settings = settings
        self.texts = texts
        self.shop = shop
        self.state = state
        self.context = context
        self.facts = facts
        self.replies: list[dict[str, Any]] = []
        self.effects: list[Effect] = []
        self.notes: list[str] = []  # said before the next view; merged into its message
        self.too_long: list[str] = []  # texts shortened to fit a title (for flows check)
        self.error: str | None = None
        self.redirect: str | None = None

    # --- speaking ------------------------------------------------------------------------

    def show(self, messages: list[dict[str, Any]]) -> None:
        """Send a view's messages, with anything said just before folded into the first
        one when it fits (one message instead of two: fewer pings, fewer rate limits)."""
        if self.notes and messages and _prepend(messages[0], "\n\n".join(self.notes)):
            self.notes.clear()
        self.flush()
        self.replies.extend(messages)

    def flush(self) -> None:
        """Send what was said and not yet shown."""
        if self.notes:
            self.replies.append(outbound.text("\n\n".join(self.notes)))
            self.notes.clear()

    def text(self, key: str, **values: Any) -> str:
        return fill_text(self.texts[key], self.shop.name, **values)

    def say(self, key: str, **values: Any) -> None:
        self.notes.append(self.text(key, **values))

    def offer(self, options: list[tuple[str, str]]) -> None:
        """Remember what was offered, so a typed number or title picks it."""
        self.context["options"] = [[option_id, title] for option_id, title in options]

    def first_name(self) -> str:
        name = (self.facts.customer.name or "").strip().split(" ")[0]
        return f" {name}" if name else ""

    # --- what the views and actions share ------------------------------------------------

    def current_product(self) -> Product:
        product = self.facts.catalog.product(int(self.context.get("product_id", 0)))
        if product is None:
            raise LookupError("the chosen product is no longer in the catalog")
        return product

    def is_open(self) -> bool:
        """Whether the shop is open now (its weekly hours, holidays closed)."""
        return hours.is_open(self.shop.business_hours, None, self.shop.timezone, self.facts.now)

    def next_opening(self) -> datetime | None:
        """Now when open, else when the shop opens next (None: it has no hours at all)."""
        return hours.next_opening(
            self.shop.business_hours, None, self.shop.timezone, self.facts.now
        )

    def opening_phrase(self) -> str | None:
        """When the shop opens next, said for a customer ("mañana a las 09:00"), or None
        when it is open now or has no hours at all."""
        if self.is_open():
            return None
        opening = self.next_opening()
        return hours.describe_opening(opening, self.facts.now) if opening else None

    def chosen(self, event: EventData | None, options: tuple[str, ...]) -> str:
        """The option picked, or the only one offered when the step was skipped."""
        value = value_of(event)
        return str(value) if value else options[0]

    def clear_checkout(self) -> None:
        self.context = Context(options=self.context.get("options", []))


_BODY_LIMITS = {"text": outbound.TEXT_BODY_MAX, "interactive": outbound.INTERACTIVE_BODY_MAX}


def _prepend(message: dict[str, Any], note: str) -> bool:
    """Put `note` above the message's body if the result stays within WhatsApp's limit."""
    kind = message.get("type")
    holder = message.get(kind, {}) if isinstance(kind, str) else {}
    body = holder.get("body") if kind == "text" else holder.get("body", {}).get("text")
    if not isinstance(body, str):
        return False
    combined = f"{note}\n\n{body}"
    if len(combined) > _BODY_LIMITS.get(str(kind), 0):
        return False
    if kind == "text":
        holder["body"] = combined
    else:
        holder["body"]["text"] = combined
    return True


def value_of(event: EventData | None) -> Any:
    return event.kwargs.get("value") if event is not None else None

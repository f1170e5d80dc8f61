"""The conversation model driven by `transitions`: one machine per flow, built once.

`Conversation` is the machine's model for one message: it reads the input, fires the
flow's trigger (whose conditions and actions, in `conditions.py` and `actions.py`, are the
methods named in the flow file), renders the state it lands in, and collects replies and
effects. It does no I/O; facts it lacks raise `MissingFacts` and the service supplies them.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from transitions import EventData, Machine

from chatcentral.conversation import cart, views
from chatcentral.conversation.actions import Actions
from chatcentral.conversation.conditions import Conditions
from chatcentral.conversation.context import Context, as_context
from chatcentral.conversation.effects import (
    OUTCOME_TRIGGERS,
    CloseHandoff,
    OpenHandoff,
    Outcome,
    RelayToStaff,
    SetReminders,
)
from chatcentral.conversation.events import LOCATION, MEDIA, REPLY, TEXT, Event
from chatcentral.conversation.flow import FlowSpec, InputSpec, StateSpec
from chatcentral.conversation.handoff_views import BACK_TO_MENU, KEEP_WAITING
from chatcentral.conversation.model import (
    CONFIRMING_CANCEL,
    EXPIRED,
    HANDOFF,
    MAIN_MENU,
    NEW,
    OFFERING_AGENT,
    RESUMING,
    REVIEWING_CART,
)
from chatcentral.conversation.text_input import coordinates_in, normalize

MAX_MISSES = 3
_MENU_WORDS = {"menu", "inicio", "menu principal", "volver al menu"}
_CANCEL_WORDS = {"cancelar", "cancela", "cancelar pedido"}
_HELP_WORDS = {"ayuda", "help", "que puedes hacer"}
_GREETINGS = {"hola", "buenas", "buenos dias", "buenas tardes", "buenas noches", "hi", "ola"}
# A person, from any state (like "menú"): what the help text promises as *asesor*.
AGENT_WORDS = frozenset(
    {
        "asesor",
        "asesora",
        "un asesor",
        "humano",
        "persona",
        "una persona",
        "agente",
        "operador",
        "hablar con alguien",
        "quiero hablar con alguien",
        "hablar con un asesor",
        "quiero hablar con un asesor",
        "hablar con asesor",
        "hablar con una persona",
        "quiero hablar con una persona",
        "hablar con un humano",
        "hablar con un agente",
        "atencion al cliente",
    }
)
# Refill reminders off ("no más recordatorios") and back on, from any state.
STOP_REMINDERS_WORDS = frozenset(
    {
        "no mas recordatorios",
        "no quiero recordatorios",
        "sin recordatorios",
        "ya no me recuerdes",
        "no me recuerdes",
        "cancelar recordatorios",
        "desactivar recordatorios",
        "basta de recordatorios",
        "stop recordatorios",
    }
)
RESUME_REMINDERS_WORDS = frozenset(
    {"activar recordatorios", "si quiero recordatorios", "quiero recordatorios"}
)
# The payload of the refill reminder's "Pedir lo de siempre" button: the repeat-order
# path of a flow that offers "¿Lo de siempre?" (as if "Sí, lo de siempre" were tapped).
REPEAT_USUAL = "repeat:usual"
OFFERING_USUAL = "offering_usual"
# The payload of the reminder's "No más recordatorios" button.
STOP_REMINDERS = "reminders:stop"
# Leaving these states never asks "¿descartar tu pedido?".
_CALM_STATES = {MAIN_MENU, HANDOFF, "checking_status", "listing_orders", "offering_agent"}


_MACHINES: dict[int, tuple[FlowSpec, Machine]] = {}


def machine_for(flow: FlowSpec) -> Machine:
    """The flow's state machine, built once; models are passed per call, never added."""
    built = _MACHINES.get(id(flow))
    if built is None or built[0] is not flow:
        built = (flow, _build_machine(flow))
        _MACHINES[id(flow)] = built
    return built[1]


def _build_machine(flow: FlowSpec) -> Machine:
    return Machine(
        model=None,
        states=[state.name for state in flow.states],
        transitions=[
            {
                "trigger": t.trigger,
                "source": list(t.sources),
                "dest": t.dest,
                "conditions": list(t.conditions),
                "unless": list(t.unless),
                "prepare": list(t.prepare),
                "before": list(t.before),
            }
            for t in flow.transitions
        ],
        initial=flow.initial,
        auto_transitions=False,
        send_event=True,
    )


class Conversation(Actions, Conditions):
    """The machine's model: reads the input, fires the flow's trigger, renders the state."""

    # --- reading input -------------------------------------------------------------------

    def handle(self, event: Event | Outcome) -> None:
        if not isinstance(event, Event):
            # What became of an effect (the order was placed, or not): its own trigger.
            self.fire(OUTCOME_TRIGGERS[type(event)], event)
        elif self.state == NEW:
            self.say("welcome", name=self.first_name())
            if not self._opening_command(event):
                self.enter(MAIN_MENU)
        elif self.state == EXPIRED:
            self._after_expiry(event)
        elif event.kind == "reaction":
            return
        elif self.state == HANDOFF:
            self._in_handoff(event)
        elif event.kind == "order":
            self._catalog_cart(event)
        elif event.reply_id == REPEAT_USUAL and self._repeat_usual():
            return
        elif event.reply_id == STOP_REMINDERS:
            self._set_reminders(opt_out=True)
        elif not self._global_command(event):
            self._answer(event)

    def _opening_command(self, event: Event) -> bool:
        """What a first message (or one after an idle spell) can ask for at once: a
        person, the usual order from a reminder, reminders off or on."""
        if event.reply_id == REPEAT_USUAL:
            return self._repeat_usual()
        if event.reply_id == STOP_REMINDERS:
            self.state = MAIN_MENU
            self._set_reminders(opt_out=True)
            return True
        typed = _command(event.text) if event.kind == TEXT and event.text else ""
        if typed in AGENT_WORDS or typed in STOP_REMINDERS_WORDS or typed in RESUME_REMINDERS_WORDS:
            self.state = MAIN_MENU
            return self._global_command(event)
        return False

    def _answer(self, event: Event) -> None:
        spec, value = self._match(self.flow.state(self.state), event)
        if spec is not None:
            self.context["misses"] = 0
            self.fire(spec.trigger, value, event)
        elif not self._navigate(event.reply_id or self._typed_option(event)):
            self._miss(event)

    def _typed_option(self, event: Event) -> str | None:
        if event.kind != TEXT or not event.text:
            return None
        return self._chosen_option(normalize(event.text))

    def _navigate(self, reply_id: str | None) -> bool:
        """A tap on an older message: navigation and main-menu rows work from anywhere."""
        if not reply_id:
            return False
        targets = {"nav:menu": MAIN_MENU, "nav:cart": REVIEWING_CART}
        target = targets.get(reply_id)
        if target is not None and any(s.name == target for s in self.flow.states):
            self.context["misses"] = 0
            self.enter(target)
            return True
        if reply_id.startswith("menu:"):
            spec, value = self._match(self.flow.state(MAIN_MENU), Event(REPLY, reply_id=reply_id))
            if spec is not None:
                self.state = MAIN_MENU
                self.fire(spec.trigger, value)
                return True
        return False

    def fire(self, trigger: str, value: Any = None, event: Event | None = None) -> None:
        """Fire a flow trigger; on a refused condition, say why and show the state again."""
        machine = machine_for(self.flow)
        before = self.state
        moved = machine.events[trigger].trigger(self, value=value, inbound=event)
        if not moved and self.error is None:
            self.error = self._refusal(
                trigger, EventData(None, None, machine, self, (), {"value": value})
            )
        if self.redirect:
            self.state, self.redirect = self.redirect, None
        if self.error:
            self.notes.append(self.error)
            self.error = None
        if self.state != before:
            self.context["page"] = 0  # a new list starts at its first page
        self.render()

    def render(self) -> None:
        """Show the current state (or leave it at once when its step does not apply)."""
        for _ in range(10):  # skips chain a few steps at most
            state = self.flow.state(self.state)
            if state.skip is not None and self._condition(state.skip.when):
                machine_for(self.flow).events[state.skip.trigger].trigger(
                    self, value=state.skip.value, inbound=None
                )
                continue
            self.show(views.VIEWS[state.view](self))
            return

    def enter(self, state: str) -> None:
        self.state = state
        self.context["page"] = 0
        self.render()

    def _match(self, state: StateSpec, event: Event) -> tuple[InputSpec | None, Any]:
        """Which input this is: a tapped id, a keyword, a parsed value, or a typed option
        (a number or a title from the last list or buttons), in that order."""
        if event.reply_id:
            for spec in state.inputs:
                if spec.reply and _reply_matches(spec.reply, event.reply_id):
                    return spec, _suffix(spec.reply, event.reply_id)
        typed = normalize(event.text) if event.kind == TEXT and event.text else None
        if typed:
            for spec in state.inputs:
                if typed in {normalize(word) for word in spec.keywords}:
                    return spec, None
        for spec in state.inputs:
            if spec.parse is not None:
                value = self._parse(spec, event)
                if value is not None:
                    return spec, value
        chosen = self._chosen_option(typed) if typed else None
        if chosen is not None:
            for spec in state.inputs:
                if spec.reply and _reply_matches(spec.reply, chosen):
                    return spec, _suffix(spec.reply, chosen)
        return None, None

    def _chosen_option(self, typed: str) -> str | None:
        options: list[list[str]] = self.context.get("options", [])
        if typed.isdigit() and 1 <= int(typed) <= len(options):
            return options[int(typed) - 1][0]
        for option_id, title in options:
            if normalize(title) == typed:
                return option_id
        return None

    def _parse(self, spec: InputSpec, event: Event) -> Any:
        text = event.text if event.kind == TEXT else None
        match spec.parse:
            case "location":
                if event.kind == LOCATION:
                    return dict(event.details)
                coordinates = coordinates_in(text or "")
                return (
                    {"latitude": coordinates[0], "longitude": coordinates[1]}
                    if coordinates
                    else None
                )
            case "media":
                return dict(event.details) if event.kind == MEDIA else None
            case "quantity" | "amount" | "number":
                return text.strip() if text and text.strip() else None
            case "text":
                if text and text.strip() and not text.strip().isdigit():
                    return text.strip()[:500]
                return None
        return None

    def _global_command(self, event: Event) -> bool:
        if event.kind != TEXT or not event.text:
            return False
        typed = _command(event.text)
        if typed in AGENT_WORDS:
            self._ask_agent()
            return True
        if typed in STOP_REMINDERS_WORDS or typed in RESUME_REMINDERS_WORDS:
            self._set_reminders(opt_out=typed in STOP_REMINDERS_WORDS)
            return True
        if typed in _MENU_WORDS or (typed in _GREETINGS and self.state != MAIN_MENU):
            self.context["misses"] = 0
            self.enter(MAIN_MENU)
            return True
        if typed in _HELP_WORDS:
            self.say("help.body")
            self.render()
            return True
        if typed in _CANCEL_WORDS:
            if cart.count(self.context) and self.state not in _CALM_STATES:
                self.context["return_to"] = self.state
                self.enter(CONFIRMING_CANCEL)
            else:
                self.clear_checkout()
                self.say("cancel.done")
                self.enter(MAIN_MENU)
            return True
        return False

    def _ask_agent(self) -> None:
        """Open a handoff from wherever the customer is (the cart stays for later)."""
        if self.state == OFFERING_AGENT:  # return_to names where they were stuck
            reason = self.context.get("return_to")
        else:
            reason = None if self.state == MAIN_MENU else self.state
        self.context["misses"] = 0
        self.effects.append(OpenHandoff(reason=reason))
        self.enter(HANDOFF)

    def _set_reminders(self, *, opt_out: bool) -> None:
        """Reminders off or on, confirmed; the customer stays where they were."""
        self.effects.append(SetReminders(opt_out=opt_out))
        self.say("reminders.stopped" if opt_out else "reminders.resumed")
        self.render()

    def _repeat_usual(self) -> bool:
        """The reminder's "Pedir lo de siempre": the flow's "Sí, lo de siempre" path.
        False (the tap is read like any other) when the flow has no such path or the
        customer has no order to repeat."""
        if not any(s.name == OFFERING_USUAL for s in self.flow.states):
            return False
        if self.facts.customer.last_order is None:
            return False
        spec, value = self._match(
            self.flow.state(OFFERING_USUAL), Event(REPLY, reply_id="usual:yes")
        )
        if spec is None:
            return False
        self.context["misses"] = 0
        self.state = OFFERING_USUAL
        self.fire(spec.trigger, value)
        return True

    def _miss(self, event: Event) -> None:
        misses = int(self.context.get("misses", 0)) + 1
        self.context["misses"] = misses
        if misses >= MAX_MISSES:
            self.context["misses"] = 0
            self.context["return_to"] = self.state
            self.enter(OFFERING_AGENT)
            return
        if event.kind in (TEXT, REPLY):
            self.say("error.unrecognised")
        elif event.kind in (LOCATION, MEDIA):
            self.say("error.unexpected")  # a pin or a photo where none was asked for
        else:
            self.say("error.unsupported")
        self.render()

    def _after_expiry(self, event: Event) -> None:
        previous_state = str(self.context.get("previous_state", MAIN_MENU))
        previous = as_context(self.context.get("previous"))
        if previous_state == HANDOFF:
            # Still with a person however long the wait: this message is for them too.
            self.state, self.context = HANDOFF, previous
            self._in_handoff(event)
            return
        self.context = Context(cart=previous.get("cart", []))
        self.say("welcome_back", name=self.first_name())
        if self._opening_command(event):
            return
        if cart.count(self.context):
            self.enter(RESUMING)
        else:
            self.enter(MAIN_MENU)

    def _in_handoff(self, event: Event) -> None:
        """A person answers here: the bot stays quiet and relays what the customer sends
        to the shop's staff, until the customer asks for the menu (typed, or the button
        of the "nobody answered yet" message) or the staff close the handoff."""
        typed = normalize(event.text) if event.kind == TEXT and event.text else None
        if event.reply_id == BACK_TO_MENU or typed in _MENU_WORDS:
            self.effects.append(CloseHandoff())
            self.enter(MAIN_MENU)
        elif event.reply_id == KEEP_WAITING:
            self.say("handoff.still_waiting")
            self.flush()
        else:
            self.effects.append(RelayToStaff(event))

    def _catalog_cart(self, event: Event) -> None:
        """A cart sent from the WhatsApp catalog: match retailer ids, go to checkout."""
        catalog = self.facts.catalog
        self.context["cart"] = []
        missing = []
        for item in event.details.get("items", []):
            product = catalog.by_retailer_id(str(item.get("retailer_id")))
            quantity = Decimal(str(item.get("quantity", 0)))
            if product is None or quantity <= 0:
                missing.append(str(item.get("retailer_id")))
                continue
            cart.add(self.context, product, quantity)
        if missing:
            self.say("catalog_cart.missing", count=len(missing))
        self.state = REVIEWING_CART
        if cart.count(self.context):
            self.fire("checkout")
        else:
            self.render()

    def _condition(self, name: str) -> bool:
        result = getattr(self, name)(None)
        return bool(result)

    def _refusal(self, trigger: str, event: EventData) -> str | None:
        """Why no transition of `trigger` could leave this state: the first refused
        condition of the first transition that has one, in the flow's order."""
        for transition in self.flow.transitions:
            if transition.trigger != trigger or self.state not in transition.sources:
                continue
            for name in transition.conditions:
                if not getattr(self, name)(event):
                    return self.refusal(name)
        return None


def _command(text: str) -> str:
    """What was typed, as a global command is looked up: "Hablar con una persona." too."""
    return normalize(text).strip(" .,")


def _reply_matches(pattern: str, reply_id: str) -> bool:
    if pattern.endswith("*"):
        return reply_id.startswith(pattern[:-1]) and len(reply_id) > len(pattern) - 1
    return pattern == reply_id


def _suffix(pattern: str, reply_id: str) -> str | None:
    return reply_id[len(pattern) - 1 :] if pattern.endswith("*") else None


__all__ = ["Conversation", "machine_for"]

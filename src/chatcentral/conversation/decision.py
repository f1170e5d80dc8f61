"""The decision function: (shop, state, context, event, facts) → state, context, replies,
effects. No I/O: when a fact is missing the decision says which, and nothing else."""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass, field
from typing import Any

from chatcentral.conversation.context import Context
from chatcentral.conversation.effects import Effect, Outcome
from chatcentral.conversation.events import Event
from chatcentral.conversation.facts import Facts, MissingFacts
from chatcentral.conversation.flow import FlowSpec, effective, shipped_flow
from chatcentral.conversation.machine import Conversation
from chatcentral.conversation.model import EXPIRED, MAIN_MENU, NEW
from chatcentral.conversation.shop import Shop

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Decision:
    state: str
    context: Context
    replies: list[dict[str, Any]]
    effects: list[Effect] = field(default_factory=list)
    needs: frozenset[str] = frozenset()
    session_minutes: int = 30


def decide(
    shop: Shop,
    state: str,
    context: Context,
    event: Event | Outcome,
    facts: Facts,
    flow: FlowSpec | None = None,
) -> Decision:
    flow = flow or shipped_flow(shop.flow)
    settings, texts = effective(flow, shop.settings)
    known = {s.name for s in flow.states}
    if state not in known and state not in (NEW, EXPIRED):
        state = MAIN_MENU  # a state this flow no longer has: start from the menu
    convo = Conversation(flow, settings, texts, shop, state, copy.deepcopy(context), facts)
    try:
        convo.handle(event)
        convo.flush()
    except MissingFacts as missing:
        return Decision(state, context, [], needs=missing.kinds)
    except LookupError as exc:
        # The catalog changed under the conversation (a product was removed): start over.
        log.info("shop %s: conversation reset (%s)", shop.slug, exc)
        convo = Conversation(flow, settings, texts, shop, MAIN_MENU, Context(), facts)
        convo.say("error.changed")
        convo.enter(MAIN_MENU)
        convo.flush()
    return Decision(
        state=convo.state,
        context=convo.context,
        replies=convo.replies,
        effects=convo.effects,
        session_minutes=settings.session_timeout_minutes,
    )

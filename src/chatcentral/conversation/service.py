"""Moved to `chatcentral.inbound`; kept until the webhook and app modules import from there."""

from chatcentral.inbound.identity import Identity, identity_of
from chatcentral.inbound.service import Clock, ConversationService, Outcome, utc_now

__all__ = ["Clock", "ConversationService", "Identity", "Outcome", "identity_of", "utc_now"]

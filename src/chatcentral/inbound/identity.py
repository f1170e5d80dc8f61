"""Who wrote: a sender's identity from an inbound message, and how to address a reply.

Customers are keyed on WhatsApp's business-scoped user id (BSUID) when present and on
the phone otherwise; Mexico's `521…` and `52…` forms are one phone.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from chatcentral.phones import InvalidPhone, normalize_phone, wa_id_of
from chatcentral.whatsapp.payloads import Contact, InboundMessage


@dataclass(frozen=True)
class Identity:
    """Who wrote: the canonical phone digits and/or the business-scoped user id."""

    wa_id: str | None
    bsuid: str | None
    name: str | None

    @property
    def address(self) -> dict[str, str]:
        """How to address a reply: by phone when known, else by BSUID."""
        if self.wa_id:
            return {"to": "+" + self.wa_id}
        assert self.bsuid is not None
        return {"recipient": self.bsuid}

    @property
    def recipient_key(self) -> str:
        return self.wa_id or self.bsuid or ""


def identity_of(message: InboundMessage, contact: Contact | None) -> Identity | None:
    """The sender's identity, or None when the message names nobody we could answer."""
    phone = message.from_ or (contact.wa_id if contact else None)
    bsuid = message.from_user_id or (contact.user_id if contact else None)
    wa_id = _canonical_wa_id(phone) if phone else None
    if not wa_id and not bsuid:
        return None
    return Identity(wa_id=wa_id, bsuid=bsuid, name=contact.name if contact else None)


# Senders of the last while: the same customers write again and again, and phonenumbers
# parses a number twice (2.6 % of the server's CPU under `make bench`). ~200 bytes an entry.
@functools.lru_cache(maxsize=16_384)
def _canonical_wa_id(phone: str) -> str:
    try:
        return wa_id_of(normalize_phone(phone))
    except InvalidPhone:
        # Test numbers and new ranges phonenumbers does not know yet: keep WhatsApp's digits.
        return "".join(ch for ch in phone if ch.isdigit())

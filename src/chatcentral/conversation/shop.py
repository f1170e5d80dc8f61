"""The engine's view of a shop: what a conversation needs to know about its tenant.

A plain value: the tenant directory builds it from `central.tenants`, tests and
`flows check` build it by hand, and nothing here knows where it came from.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from chatcentral.phones import wa_id_of


@dataclass(frozen=True)
class Shop:
    id: int
    slug: str
    schema: str
    name: str
    phone_number_id: str
    display_phone: str
    flow: str
    active: bool
    timezone: str
    currency: str
    business_hours: dict[str, Any]
    settings: dict[str, Any]
    admin_phones: tuple[str, ...]  # canonical E.164, e.g. "+525587654321"
    access_token_encrypted: bytes | None
    plan: str = "premium"
    message_quota: int | None = None  # the plan's monthly messages; None: no limit
    features: frozenset[str] | None = None  # what the plan includes; None: everything
    product_limit: int | None = None  # active products the plan allows; None: no limit

    def includes(self, feature: str) -> bool:
        return self.features is None or feature in self.features

    @functools.cached_property
    def admin_ids(self) -> frozenset[str]:
        """The admins as WhatsApp names senders (`wa_id` digits); worked out once per
        shop, not on every message."""
        return frozenset(wa_id_of(phone) for phone in self.admin_phones)

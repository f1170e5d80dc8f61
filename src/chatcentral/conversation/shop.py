"""The engine's view of a shop: what a conversation needs to know about its tenant.

A plain value: the tenant directory builds it from `central.tenants`, tests and
`flows check` build it by hand, and nothing here knows where it came from.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


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
    admin_phones: tuple[str, ...]
    access_token_encrypted: bytes | None

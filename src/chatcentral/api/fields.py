"""Field types shared by the API's models, bounded so that whatever a client sends is
either refused with a 422 or stored: PostgreSQL refuses NUL and lone surrogates in text
and ids beyond bigint, which would otherwise surface as a 500."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import AfterValidator, Field

from chatcentral.tenancy.catalog import DESCRIPTION_MAX, NAME_MAX, PRICE_LIMIT, STOCK_LIMIT
from chatcentral.whatsapp.outbound import TEXT_BODY_MAX

BIGINT_MAX = 2**63 - 1


def _storable(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode text (no lone surrogates)") from None
    return value


def _trimmed(value: str) -> str:
    value = value.strip()
    if not value:
        raise ValueError("must not be blank")
    return value


Id = Annotated[int, Field(ge=1, le=BIGINT_MAX)]
Text = Annotated[str, AfterValidator(_storable)]
Name = Annotated[
    str,
    Field(min_length=1, max_length=NAME_MAX),
    AfterValidator(_storable),
    AfterValidator(_trimmed),
]
Note = Annotated[str, Field(max_length=DESCRIPTION_MAX), AfterValidator(_storable)]
Money = Annotated[Decimal, Field(ge=0, lt=PRICE_LIMIT, decimal_places=2)]
Quantity = Annotated[Decimal, Field(ge=0, lt=STOCK_LIMIT, decimal_places=3)]
Short = Annotated[str, Field(min_length=1, max_length=100), AfterValidator(_storable)]
# A WhatsApp text message's body (`whatsapp/outbound.py` TEXT_BODY_MAX).
LongText = Annotated[
    str,
    Field(min_length=1, max_length=TEXT_BODY_MAX),
    AfterValidator(_storable),
    AfterValidator(_trimmed),
]

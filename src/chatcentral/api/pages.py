"""Cursor (keyset) pagination: lists run newest first by id, and the cursor is the last
id a page showed, opaque to clients. A page never skips or repeats a row when rows are
added meanwhile, and its cost does not grow with how deep the client has paged."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Generic, TypeVar

from pydantic import AfterValidator, BaseModel, Field

from chatcentral.api.fields import BIGINT_MAX

T = TypeVar("T")
PAGE_DEFAULT = 50
PAGE_MAX = 200
_MARK = "after:"
LIKE_ESCAPE = "\\"


def containing(text: str) -> str:
    """A LIKE pattern (escape `LIKE_ESCAPE`) for a list's `search`: the text anywhere,
    its own `%` and `_` taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def encode(last_id: int) -> str:
    return base64.urlsafe_b64encode(f"{_MARK}{last_id}".encode()).decode().rstrip("=")


def decode(cursor: str) -> int:
    """The id a cursor points after; ValueError for anything not made by `encode`."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise ValueError("not a cursor this API gave") from None
    digits = raw.removeprefix(_MARK)
    if not raw.startswith(_MARK) or not digits.isdigit() or not 0 < int(digits) <= BIGINT_MAX:
        raise ValueError("not a cursor this API gave")
    if encode(int(digits)) != cursor:  # one spelling per cursor (no padding, no spare bits)
        raise ValueError("not a cursor this API gave")
    return int(digits)


def _cursor(value: str) -> str:
    decode(value)
    return value


Cursor = Annotated[str, Field(max_length=64), AfterValidator(_cursor)]
Limit = Annotated[int, Field(ge=1, le=PAGE_MAX)]


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(
        description="pass as `cursor` for the next page; null on the last page"
    )


def page(items: list[T], ids: list[int], limit: int) -> tuple[list[T], str | None]:
    """Cut `limit + 1` fetched rows to a page and its next cursor."""
    if len(items) > limit:
        return items[:limit], encode(ids[limit - 1])
    return items, None

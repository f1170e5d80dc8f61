"""Reading what customers type: accents and capitals ignored, numbers in Mexican style."""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal, InvalidOperation

_SPACES = re.compile(r"\s+")
_PUNCTUATION = re.compile(r"[^\w\s.,]")
_POSTAL_CODE = re.compile(r"\b(\d{5})\b")
_COORDINATES = re.compile(r"^\s*(-?\d{1,3}(?:\.\d+)?)\s*,\s*(-?\d{1,3}(?:\.\d+)?)\s*$")


def normalize(text: str) -> str:
    """Lower-case, accents removed, punctuation and repeated spaces dropped."""
    decomposed = unicodedata.normalize("NFKD", text.strip().lower())
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _SPACES.sub(" ", _PUNCTUATION.sub(" ", plain)).strip()


def parse_decimal(text: str) -> Decimal | None:
    """A plain number like '2', '1.5', '1,5' or '$1,250.00'; None for anything else."""
    raw = text.strip().replace("$", "").replace(" ", "")
    if raw.count(",") == 1 and "." not in raw and len(raw.split(",")[1]) != 3:
        raw = raw.replace(",", ".")  # 1,5 → 1.5 (a decimal comma, not thousands)
    raw = raw.replace(",", "")
    if not re.fullmatch(r"-?\d+(\.\d+)?", raw):
        return None
    try:
        return Decimal(raw)
    except InvalidOperation:
        return None


def postal_code_in(text: str) -> str | None:
    match = _POSTAL_CODE.search(text)
    return match.group(1) if match else None


def coordinates_in(text: str) -> tuple[float, float] | None:
    """'19.43,-99.13' typed as text (the simulator's way to send a pin)."""
    match = _COORDINATES.match(text)
    if not match:
        return None
    lat, lng = float(match.group(1)), float(match.group(2))
    if -90 <= lat <= 90 and -180 <= lng <= 180:
        return lat, lng
    return None

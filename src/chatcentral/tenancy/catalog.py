"""Shop catalogs from CSV: `name,category,price,unit,description,stock,active`.

The whole file is validated before anything is imported; the first bad row is reported
with its line number (the header is line 1).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from chatcentral.models.tenant import FRACTIONAL_UNITS, Unit

COLUMNS = ("name", "category", "price", "unit", "description", "stock", "active")
_TRUE = {"1", "true", "yes", "si", "sí", "y", "t", ""}
_FALSE = {"0", "false", "no", "n", "f"}
_UNIT_ALIASES = {"GARRAFÓN": "GARRAFON", "LITRO": "LITER", "PIEZA": "PIECE", "CAJA": "BOX"}


class CatalogError(ValueError):
    """A catalog file that cannot be imported; the message names the line."""


@dataclass(frozen=True)
class CatalogItem:
    name: str
    category: str
    price: Decimal
    unit: Unit
    description: str | None
    stock: Decimal | None
    active: bool


def read_catalog(path: Path) -> list[CatalogItem]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise CatalogError(f"{path}: file not found") from None
    except UnicodeDecodeError:
        raise CatalogError(f"{path}: not UTF-8 text") from None
    return parse_catalog(text, source=str(path))


def parse_catalog(text: str, source: str = "catalog") -> list[CatalogItem]:
    # newline="": the csv module reads line ends itself (a lone \r inside a file would
    # otherwise stop it with an error that names no line).
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        return _parse(reader, source)
    except csv.Error as exc:
        raise CatalogError(f"{source}:{reader.line_num}: {exc}") from None


def _parse(reader: Any, source: str) -> list[CatalogItem]:
    header = next(reader, None)
    if header is None:
        raise CatalogError(f"{source}: empty file, expected header {','.join(COLUMNS)}")
    header = [column.strip().lower() for column in header]
    missing = [column for column in COLUMNS if column not in header]
    if missing:
        raise CatalogError(f"{source}:1: missing column(s) {', '.join(missing)}")
    index = {column: header.index(column) for column in COLUMNS}
    items: list[CatalogItem] = []
    seen: set[tuple[str, str]] = set()
    for row in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise CatalogError(f"{source}:{line}: expected {len(header)} fields, got {len(row)}")
        try:
            item = _item({column: row[i].strip() for column, i in index.items()})
        except ValueError as exc:
            raise CatalogError(f"{source}:{line}: {exc}") from None
        key = (item.category.lower(), item.name.lower())
        if key in seen:
            raise CatalogError(
                f"{source}:{line}: duplicate product {item.name!r} in {item.category!r}"
            )
        seen.add(key)
        items.append(item)
    return items


def _item(cells: dict[str, str]) -> CatalogItem:
    if not cells["name"]:
        raise ValueError("name is empty")
    if not cells["category"]:
        raise ValueError("category is empty")
    unit = _unit(cells["unit"])
    return CatalogItem(
        name=cells["name"],
        category=cells["category"],
        price=_money(cells["price"]),
        unit=unit,
        description=cells["description"] or None,
        stock=_stock(cells["stock"], unit),
        active=_flag(cells["active"]),
    )


def _money(raw: str) -> Decimal:
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise ValueError(f"price {raw!r} is not a number like 23.50") from None
    if not value.is_finite() or value < 0:
        raise ValueError(f"price {raw!r} must be zero or more")
    if value != value.quantize(Decimal("0.01")):
        raise ValueError(f"price {raw!r} has more than 2 decimals")
    if value >= Decimal("1e10"):
        raise ValueError(f"price {raw!r} is too large")
    return value.quantize(Decimal("0.01"))


def _unit(raw: str) -> Unit:
    key = _UNIT_ALIASES.get(raw.upper(), raw.upper())
    try:
        return Unit(key)
    except ValueError:
        raise ValueError(f"unit {raw!r} is not one of {', '.join(Unit)}") from None


def _stock(raw: str, unit: Unit) -> Decimal | None:
    if raw == "":
        return None
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise ValueError(f"stock {raw!r} is not a number") from None
    if not value.is_finite() or value < 0 or value >= Decimal("1e9"):
        raise ValueError(f"stock {raw!r} must be between 0 and 999999999")
    if unit not in FRACTIONAL_UNITS and value != value.to_integral_value():
        raise ValueError(f"stock {raw!r} must be a whole number for unit {unit}")
    return value


def _flag(raw: str) -> bool:
    value = raw.lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"active {raw!r} must be true or false")

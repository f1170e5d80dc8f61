"""Shop catalogs from CSV: `name,category,price,unit,description,stock,active`.

The whole file is validated before anything is imported; the first bad row is reported
with its line number (the header is line 1). The cell readers (`read_money`, …) are also
how the panel reads a product's form fields: the same rules, typed in a form or a file.

Every problem carries a `code` and its values besides the English message, so a caller
speaking to the shop owner (the panel, in Spanish) words it its own way.
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
# The admin API's fields (`api/fields.py`: Name, Note, Money, Quantity) take these too.
NAME_MAX = 200
DESCRIPTION_MAX = 1000
PRICE_LIMIT = Decimal("1e10")
STOCK_LIMIT = Decimal("1e9")


class FieldProblem(ValueError):
    """One value that is not acceptable: `code` says why (e.g. `price_not_number`),
    `value` is what was given; `str()` is the English message."""

    def __init__(self, code: str, value: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.value = value


class CatalogError(ValueError):
    """A catalog file that cannot be imported; the message names the line. `line` is None
    for the file as a whole; `code` and `values` describe the problem for translation."""

    def __init__(
        self, message: str, *, line: int | None = None, code: str = "", **values: Any
    ) -> None:
        super().__init__(message)
        self.line = line
        self.code = code
        self.values = values


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
        raise CatalogError(f"{path}: file not found", code="missing") from None
    except UnicodeDecodeError:
        raise CatalogError(f"{path}: not UTF-8 text", code="not_utf8") from None
    return parse_catalog(text, source=str(path))


def parse_upload(raw: bytes, source: str = "upload") -> list[CatalogItem]:
    """A catalog sent as bytes (the API's body, the panel's file): UTF-8 (a BOM is fine),
    no NUL (PostgreSQL refuses it in text), then `parse_catalog`."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise CatalogError("the file is not UTF-8 text", code="not_utf8") from None
    if "\x00" in text:
        line = text[: text.index("\x00")].count("\n") + 1
        raise CatalogError(f"{source}:{line}: contains a NUL character", line=line, code="nul")
    return parse_catalog(text, source=source)


def parse_catalog(text: str, source: str = "catalog") -> list[CatalogItem]:
    # newline="": the csv module reads line ends itself (a lone \r inside a file would
    # otherwise stop it with an error that names no line).
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        return _parse(reader, source)
    except csv.Error as exc:
        line = reader.line_num
        raise CatalogError(
            f"{source}:{line}: {exc}", line=line, code="csv", error=str(exc)
        ) from None


def _parse(reader: Any, source: str) -> list[CatalogItem]:
    header = next(reader, None)
    if header is None:
        raise CatalogError(
            f"{source}: empty file, expected header {','.join(COLUMNS)}", code="empty"
        )
    header = [column.strip().lower() for column in header]
    missing = [column for column in COLUMNS if column not in header]
    if missing:
        raise CatalogError(
            f"{source}:1: missing column(s) {', '.join(missing)}",
            line=1,
            code="missing_columns",
            columns=missing,
        )
    index = {column: header.index(column) for column in COLUMNS}
    items: list[CatalogItem] = []
    seen: set[tuple[str, str]] = set()
    for row in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise CatalogError(
                f"{source}:{line}: expected {len(header)} fields, got {len(row)}",
                line=line,
                code="field_count",
                expected=len(header),
                got=len(row),
            )
        try:
            item = _item({column: row[i].strip() for column, i in index.items()})
        except FieldProblem as exc:
            raise CatalogError(
                f"{source}:{line}: {exc}", line=line, code=exc.code, value=exc.value
            ) from None
        key = (item.category.lower(), item.name.lower())
        if key in seen:
            raise CatalogError(
                f"{source}:{line}: duplicate product {item.name!r} in {item.category!r}",
                line=line,
                code="duplicate",
                name=item.name,
                category=item.category,
            )
        seen.add(key)
        items.append(item)
    return items


def _item(cells: dict[str, str]) -> CatalogItem:
    unit = read_unit(cells["unit"])
    return CatalogItem(
        name=read_name(cells["name"], "name"),
        category=read_name(cells["category"], "category"),
        price=read_money(cells["price"]),
        unit=unit,
        description=read_description(cells["description"]),
        stock=read_stock(cells["stock"], unit),
        active=read_flag(cells["active"]),
    )


def _storable(raw: str, field: str) -> None:
    """PostgreSQL refuses NUL and lone surrogates in text: refused here, not a 500 later."""
    try:
        raw.encode("utf-8")
    except UnicodeEncodeError:
        raise FieldProblem(f"{field}_not_text", raw, f"{field} is not valid text") from None
    if "\x00" in raw:
        raise FieldProblem(f"{field}_not_text", raw, f"{field} is not valid text")


def read_name(raw: str, field: str = "name") -> str:
    """A product's or a category's name: trimmed, not empty, at most NAME_MAX."""
    value = raw.strip()
    _storable(value, field)
    if not value:
        raise FieldProblem(f"{field}_empty", raw, f"{field} is empty")
    if len(value) > NAME_MAX:
        raise FieldProblem(
            f"{field}_too_long", raw, f"{field} is longer than {NAME_MAX} characters"
        )
    return value


def read_description(raw: str) -> str | None:
    value = raw.strip()
    _storable(value, "description")
    if len(value) > DESCRIPTION_MAX:
        raise FieldProblem(
            "description_too_long",
            raw,
            f"description is longer than {DESCRIPTION_MAX} characters",
        )
    return value or None


def read_money(raw: str) -> Decimal:
    raw = raw.strip()
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise FieldProblem(
            "price_not_number", raw, f"price {raw!r} is not a number like 23.50"
        ) from None
    if not value.is_finite() or value < 0:
        raise FieldProblem("price_negative", raw, f"price {raw!r} must be zero or more")
    if value != value.quantize(Decimal("0.01")):
        raise FieldProblem("price_decimals", raw, f"price {raw!r} has more than 2 decimals")
    if value >= PRICE_LIMIT:
        raise FieldProblem("price_too_large", raw, f"price {raw!r} is too large")
    return value.quantize(Decimal("0.01"))


def read_unit(raw: str) -> Unit:
    key = _UNIT_ALIASES.get(raw.strip().upper(), raw.strip().upper())
    try:
        return Unit(key)
    except ValueError:
        raise FieldProblem(
            "unit_unknown", raw, f"unit {raw!r} is not one of {', '.join(Unit)}"
        ) from None


def read_stock(raw: str, unit: Unit) -> Decimal | None:
    """Blank: not tracked (always available)."""
    raw = raw.strip()
    if raw == "":
        return None
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise FieldProblem("stock_not_number", raw, f"stock {raw!r} is not a number") from None
    if not value.is_finite() or value < 0 or value >= STOCK_LIMIT:
        raise FieldProblem("stock_range", raw, f"stock {raw!r} must be between 0 and 999999999")
    if value != value.quantize(Decimal("0.001")):
        raise FieldProblem("stock_decimals", raw, f"stock {raw!r} has more than 3 decimals")
    if not fits_unit(unit, value):
        raise FieldProblem(
            "stock_not_whole", raw, f"stock {raw!r} must be a whole number for unit {unit}"
        )
    return value


def fits_unit(unit: Unit, stock: Decimal | None) -> bool:
    """Pieces, boxes and jugs are counted whole; kilos and liters may be fractions."""
    return stock is None or unit in FRACTIONAL_UNITS or stock == stock.to_integral_value()


def read_flag(raw: str) -> bool:
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise FieldProblem("active_unknown", raw, f"active {raw!r} must be true or false")

"""The Ajustes page's forms read into what `tenancy.business_hours` and
`tenancy.shop_settings` take, each refusal one Spanish sentence for the owner.

The checks are the engine's own where it has them (`hours.validate`, the postal code
the bot reads from an address, coordinates as typed to the bot); what is added here is
what a form can get wrong and a CLI line cannot (a closing time before the opening one).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from chatcentral.conversation import hours
from chatcentral.conversation.flow import Location
from chatcentral.conversation.text_input import coordinates_in, parse_decimal, postal_code_in
from chatcentral.panel.requests import Form

DAY_LABELS = dict(
    zip(
        hours.WEEKDAYS,
        ("Lunes", "Martes", "Miércoles", "Jueves", "Viernes", "Sábado", "Domingo"),
        strict=True,
    )
)
RANGES_PER_DAY = 2  # a morning and an afternoon shift, as many shops close for lunch
RANGES_MAX = 6  # more come only from `tenant hours`; the form keeps them
MONEY_MAX = Decimal("100000")
RADIUS_MAX_KM = 100
ZONE_NAME_MAX = 60
ZONES_MAX = 50


class FormRefused(ValueError):
    """What the owner typed cannot be saved; the message says why, in Spanish."""


# --- hours -------------------------------------------------------------------------------


@dataclass(frozen=True)
class DayRow:
    """One weekday as the form shows it."""

    key: str
    label: str
    open: bool
    ranges: tuple[tuple[str, str], ...]  # at least RANGES_PER_DAY, blanks for unused


def day_rows(week: dict[str, Any]) -> list[DayRow]:
    """The stored week as form rows; a midnight close ("24:00") is shown as 00:00."""
    rows = []
    for day in hours.WEEKDAYS:
        ranges = [(start, "00:00" if end == "24:00" else end) for start, end in week.get(day) or []]
        padded = ranges + [("", "")] * (RANGES_PER_DAY - len(ranges))
        rows.append(DayRow(day, DAY_LABELS[day], bool(ranges), tuple(padded)))
    return rows


def typed_rows(form: Form) -> list[DayRow]:
    """The week as typed, to show again beside a refusal."""
    return [
        DayRow(
            day,
            DAY_LABELS[day],
            form.get(f"{day}_open") == "on",
            tuple(
                (form.get(f"{day}_from{n}", ""), form.get(f"{day}_to{n}", ""))
                for n in range(RANGES_MAX)
                if n < RANGES_PER_DAY or f"{day}_from{n}" in form
            ),
        )
        for day in hours.WEEKDAYS
    ]


def read_week(form: Form) -> dict[str, list[list[str]]]:
    """Every weekday's ranges (an empty list: closed)."""
    return {row.key: _day_ranges(row) for row in typed_rows(form)}


def _day_ranges(row: DayRow) -> list[list[str]]:
    if not row.open:
        return []
    typed = [(start.strip(), end.strip()) for start, end in row.ranges]
    ranges = [
        _range(row, start, end) for n, (start, end) in enumerate(typed) if n == 0 or start or end
    ]
    for (_, end), (start, _) in itertools.pairwise(ranges):
        if start < end:
            raise FormRefused(
                f"{row.label}: el segundo horario empieza antes de que acabe el primero."
            )
    return ranges


def _range(row: DayRow, start: str, end: str) -> list[str]:
    if not start or not end:
        raise FormRefused(f"{row.label}: pon la hora de apertura y la de cierre.")
    end = "24:00" if end == "00:00" else end  # closing at midnight
    try:
        hours.validate({row.key: [[start, end]]})
    except hours.HoursError:
        raise FormRefused(f"{row.label}: «{start}–{end}» no es una hora válida (HH:MM).") from None
    if end <= start:
        raise FormRefused(f"{row.label}: la hora de cierre debe ser después de la de apertura.")
    return [start, end]


def read_holiday(form: Form, today: date) -> date:
    typed = (form.get("date") or "").strip()
    try:
        day = hours.parse_holiday(typed)
    except hours.HoursError:
        raise FormRefused(f"«{typed[:20]}» no es una fecha válida (AAAA-MM-DD).") from None
    if day < today:
        raise FormRefused("Esa fecha ya pasó.")
    return day


def holiday_label(day: date) -> str:
    weekday = hours.DAY_NAMES_ES[day.weekday()]
    return f"{weekday} {day.day} de {hours.MONTH_NAMES_ES[day.month - 1]} de {day.year}"


# --- delivery ----------------------------------------------------------------------------


def money(form: Form, name: str, label: str) -> str:
    """An amount typed as "25", "25.50" or "$1,200", kept as the settings keep it ("25.00")."""
    typed = (form.get(name) or "").strip() or "0"
    amount = parse_decimal(typed)
    if amount is None or amount < 0 or amount >= MONEY_MAX or amount != round(amount, 2):
        raise FormRefused(f"{label}: «{typed[:20]}» no es una cantidad válida (por ejemplo 25.50).")
    return f"{amount:.2f}"


def read_location(form: Form) -> dict[str, float] | None:
    typed = (form.get("location") or "").strip()
    if not typed:
        return None
    point = coordinates_in(typed)
    if point is None:
        raise FormRefused("Ubicación: escribe latitud y longitud, por ejemplo 19.4326, -99.1332.")
    return {"latitude": point[0], "longitude": point[1]}


def location_text(point: Location | None) -> str:
    return f"{point.latitude}, {point.longitude}" if point else ""


def read_zone(form: Form, has_location: bool) -> dict[str, Any]:
    """A zone as `flow.Zone` reads it: postal codes the bot can find in an address, or a
    radius around the shop (which then needs the shop's location)."""
    name = " ".join((form.get("name") or "").split())
    if not name or len(name) > ZONE_NAME_MAX:
        raise FormRefused(f"Ponle a la zona un nombre de hasta {ZONE_NAME_MAX} letras.")
    codes = [code for code in (form.get("postal_codes") or "").replace(",", " ").split() if code]
    for code in codes:
        if postal_code_in(code) != code:
            raise FormRefused(f"«{code[:20]}» no es un código postal de 5 dígitos.")
    radius = _radius(form.get("radius_km") or "")
    if not codes and radius is None:
        raise FormRefused("Pon al menos un código postal o un radio en km.")
    if radius is not None and not has_location:
        raise FormRefused("Para una zona por distancia guarda primero la ubicación de la tienda.")
    zone: dict[str, Any] = {
        "name": name,
        "postal_codes": list(dict.fromkeys(codes)),
        "fee": money(form, "fee", "Costo de envío"),
        "minimum_order": money(form, "minimum_order", "Pedido mínimo"),
    }
    if radius is not None:
        zone["radius_km"] = radius
    return zone


def _radius(typed: str) -> float | None:
    if not typed.strip():
        return None
    value = parse_decimal(typed)
    if value is None or not 0 < value <= RADIUS_MAX_KM:
        raise FormRefused(f"Radio: escribe los km, de 0.1 a {RADIUS_MAX_KM}.")
    return float(value)


def zone_names_clash(zones: list[dict[str, Any]], zone: dict[str, Any], index: int | None) -> bool:
    wanted = zone["name"].casefold()
    return any(
        str(z.get("name", "")).casefold() == wanted for n, z in enumerate(zones) if n != index
    )

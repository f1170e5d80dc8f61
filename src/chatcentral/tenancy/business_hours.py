"""A shop's business hours and holidays in `central.tenants.business_hours`, for operators.

The JSON holds one key per weekday (`mon`…`sun`: a list of `["HH:MM", "HH:MM"]` ranges,
empty when closed) and `holidays` (ISO dates, closed all day): see
`conversation/hours.py`, which does the arithmetic. A change is validated whole, written
with the shop's cached copy dropped in every process (`record_change`) and audited.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Connection, Engine, func, select, update

from chatcentral.conversation import hours
from chatcentral.models.central import Tenant
from chatcentral.tenancy.registry import UnknownTenant, record_change


@dataclass(frozen=True)
class ShopHours:
    slug: str
    timezone: str
    hours: dict[str, Any]  # validated and normalised: every weekday, holidays sorted


def read_hours(engine: Engine, slug: str) -> ShopHours:
    with engine.connect() as conn:
        row = conn.execute(
            select(Tenant.timezone, Tenant.business_hours).where(Tenant.slug == slug)
        ).first()
    if row is None:
        raise UnknownTenant(f"no tenant with slug {slug!r}")
    return ShopHours(slug, row.timezone, normalised(row.business_hours))


class HolidayMissing(hours.HoursError):
    """A holiday to remove that the shop does not have."""


@dataclass(frozen=True)
class HoursChange:
    """A change of hours already read: days replaced (an empty list: closed), holidays
    added or removed, or all days or holidays cleared first."""

    days: tuple[dict[str, list[list[str]]], ...] = ()
    add_holidays: tuple[date, ...] = ()
    remove_holidays: tuple[date, ...] = ()
    clear_days: bool = False
    clear_holidays: bool = False


def change_hours(
    engine: Engine,
    slug: str,
    *,
    days: Sequence[str] = (),
    add_holidays: Iterable[str] = (),
    remove_holidays: Iterable[str] = (),
    clear_days: bool = False,
    clear_holidays: bool = False,
    actor: str = "cli",
) -> ShopHours:
    """Apply day specs ("mon-fri 09:00-18:00", "sun closed") over the current hours (the
    days a spec names are replaced, the others kept, or all cleared first with
    `clear_days`), add or remove holidays; validated whole before anything is written.
    Raises HoursError (bad input) or UnknownTenant."""
    change = HoursChange(
        days=tuple(hours.parse_days_spec(spec) for spec in days),
        add_holidays=tuple(hours.parse_holiday(value) for value in add_holidays),
        remove_holidays=tuple(hours.parse_holiday(value) for value in remove_holidays),
        clear_days=clear_days,
        clear_holidays=clear_holidays,
    )
    with engine.begin() as conn:
        return apply_hours(conn, slug, change, actor=actor)


def apply_hours(conn: Connection, slug: str, change: HoursChange, *, actor: str) -> ShopHours:
    """`change` applied in `conn`'s transaction (the CLI's and the panel's): validated
    whole, written only when it changes something, announced and audited. Raises
    HoursError or UnknownTenant."""
    row = conn.execute(
        select(Tenant.id, Tenant.timezone, Tenant.business_hours)
        .where(Tenant.slug == slug)
        .with_for_update()
    ).first()
    if row is None:
        raise UnknownTenant(f"no tenant with slug {slug!r}")
    before = normalised(row.business_hours)
    after = {day: ([] if change.clear_days else list(before[day])) for day in hours.WEEKDAYS}
    for days in change.days:
        after.update(days)
    holidays: set[date] = set() if change.clear_holidays else set(hours.holidays_of(before))
    missing = sorted(d for d in change.remove_holidays if d not in holidays)
    if missing:
        raise HolidayMissing(f"{missing[0].isoformat()} is not one of the shop's holidays")
    holidays = (holidays - set(change.remove_holidays)) | set(change.add_holidays)
    after[hours.HOLIDAYS] = [d.isoformat() for d in sorted(holidays)]
    after = hours.validate(after)
    if after != before:
        conn.execute(
            update(Tenant)
            .where(Tenant.id == row.id)
            .values(business_hours=after, updated_at=func.now())
        )
        details = {"before": row.business_hours, "after": after}
        record_change(conn, slug, row.id, "tenant.hours", actor=actor, details=details)
    return ShopHours(slug, row.timezone, after)


def normalised(stored: dict[str, Any] | None) -> dict[str, Any]:
    """Stored hours as `validate` leaves them; a shop with unreadable hours (written by
    hand) is shown and changed from what can be read rather than refused."""
    raw = dict(stored or {})
    try:
        return hours.validate(raw)
    except hours.HoursError:
        kept: dict[str, Any] = {}
        for day in hours.WEEKDAYS:
            try:
                kept[day] = hours.validate({day: raw.get(day) or []})[day]
            except hours.HoursError:
                kept[day] = []
        kept[hours.HOLIDAYS] = []
        return kept

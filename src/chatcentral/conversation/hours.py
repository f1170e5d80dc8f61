"""A shop's business hours and holidays, as pure arithmetic on moments.

The hours are the JSON kept in `central.tenants.business_hours`:

    {"mon": [["09:00", "18:00"]], "tue": [...], ..., "sun": [],
     "holidays": ["2026-12-25", "2027-01-01"]}

- weekday keys are `mon`…`sun`; each holds `[start, end]` pairs of local "HH:MM" times,
  start included, end excluded; "24:00" as an end means midnight; a pair whose end is
  not after its start runs past midnight ("22:00"–"02:00" closes at 02:00 the next day);
- `holidays` holds ISO dates (local calendar days of the shop): a holiday is closed for
  the whole day, including the part of an overnight range that spills into it.

Every function takes the hours, the holidays (`None` reads them from the hours' own
"holidays" key), the shop's time zone (a name or a `tzinfo`) and aware datetimes; none of
them reads the clock. Moments returned are in the shop's time zone.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# Keys of a shop's business hours, in `datetime.weekday()` order.
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
HOLIDAYS = "holidays"

# How far ahead an opening is looked for: a shop closed for longer has no next opening.
HORIZON_DAYS = 400

_TIME = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$|^24:00$")

Hours = Mapping[str, Any]
Interval = tuple[datetime, datetime]  # [opens, closes) in UTC


class HoursError(ValueError):
    """Hours or holidays that cannot be read; the message is one line a person can act on."""


# --- reading -----------------------------------------------------------------------------


def holidays_of(hours: Hours | None) -> frozenset[date]:
    """The holidays kept in the hours' own "holidays" key."""
    raw = (hours or {}).get(HOLIDAYS) or []
    return frozenset(_date(value) for value in raw)


def validate(hours: Hours) -> dict[str, Any]:
    """The hours checked and normalised (every weekday present, holidays sorted, unique);
    raises HoursError naming the first thing wrong."""
    if not isinstance(hours, Mapping):
        raise HoursError("business hours must be an object of weekdays")
    unknown = sorted(set(hours) - {*WEEKDAYS, HOLIDAYS})
    if unknown:
        raise HoursError(f"unknown key in business hours: {unknown[0]!r}")
    result: dict[str, Any] = {}
    for day in WEEKDAYS:
        ranges = hours.get(day) or []
        if not isinstance(ranges, list):
            raise HoursError(f"{day}: expected a list of [start, end] pairs")
        checked = []
        for pair in ranges:
            if not (isinstance(pair, list | tuple) and len(pair) == 2):
                raise HoursError(f"{day}: expected [start, end], got {pair!r}")
            start, end = (str(pair[0]), str(pair[1]))
            _minutes(start, day)
            _minutes(end, day)
            if start == "24:00":
                raise HoursError(f"{day}: a range cannot start at 24:00")
            if start == end:
                raise HoursError(f"{day}: empty range {start}-{end}")
            checked.append([start, end])
        result[day] = sorted(checked)
    result[HOLIDAYS] = [d.isoformat() for d in sorted(holidays_of(hours))]
    return result


# Day names an operator may type: English or Spanish, short or long, accents optional.
_DAY_ALIASES = {
    **{day: day for day in WEEKDAYS},
    "monday": "mon",
    "tuesday": "tue",
    "wednesday": "wed",
    "thursday": "thu",
    "friday": "fri",
    "saturday": "sat",
    "sunday": "sun",
    "lun": "mon",
    "mar": "tue",
    "mie": "wed",
    "jue": "thu",
    "vie": "fri",
    "sab": "sat",
    "dom": "sun",
    "lunes": "mon",
    "martes": "tue",
    "miercoles": "wed",
    "jueves": "thu",
    "viernes": "fri",
    "sabado": "sat",
    "domingo": "sun",
}
_CLOSED_WORDS = {"closed", "cerrado", "off", "none", "-"}
_RANGE = re.compile(r"^(\d{1,2}:\d{2})-(\d{1,2}:\d{2})$")


def parse_days_spec(spec: str) -> dict[str, list[list[str]]]:
    """One line of hours as an operator types it: "mon-fri 09:00-18:00",
    "sat 09:00-14:00", "mon,wed 09:00-13:00,16:00-20:00", "sun closed", "lun-sab 8:00-20:00".
    Returns the days it names with their ranges (an empty list: closed); HoursError names
    what is wrong."""
    parts = spec.strip().split(None, 1)
    if len(parts) != 2:
        raise HoursError(
            f"bad hours {spec!r}: expected DAYS HH:MM-HH:MM (e.g. 'mon-fri 09:00-18:00')"
        )
    days = _parse_days(parts[0], spec)
    times = parts[1].strip().lower()
    ranges: list[list[str]] = []
    if times not in _CLOSED_WORDS:
        for chunk in re.split(r"\s*,\s*|\s+", times):
            matched = _RANGE.match(chunk.replace("–", "-"))
            if not matched:
                raise HoursError(
                    f"bad hours {spec!r}: {chunk!r} is not a range like 09:00-18:00 (or 'closed')"
                )
            start, end = (_padded(t) for t in matched.groups())
            ranges.append([start, end])
    try:
        checked = validate({day: ranges for day in days})
    except HoursError as exc:
        raise HoursError(f"bad hours {spec!r}: {exc}") from None
    return {day: checked[day] for day in days}


def _parse_days(text: str, spec: str) -> list[str]:
    days: list[str] = []
    for item in text.lower().split(","):
        ends = [_day(name, spec) for name in item.split("-")]
        if len(ends) == 1:
            days.append(ends[0])
        elif len(ends) == 2:
            first, last = (WEEKDAYS.index(day) for day in ends)
            if last < first:
                raise HoursError(f"bad hours {spec!r}: {item!r} runs backwards")
            days.extend(WEEKDAYS[first : last + 1])
        else:
            raise HoursError(f"bad hours {spec!r}: {item!r} is not a day or a range of days")
    return list(dict.fromkeys(days))


def _day(name: str, spec: str) -> str:
    plain = name.strip().translate(str.maketrans("áéíóú", "aeiou"))
    day = _DAY_ALIASES.get(plain)
    if day is None:
        raise HoursError(f"bad hours {spec!r}: unknown day {name!r} (use mon..sun or lun..dom)")
    return day


def _padded(value: str) -> str:
    hh, mm = value.split(":")
    return f"{int(hh):02d}:{mm}"


def parse_holiday(value: str) -> date:
    """A holiday as typed (YYYY-MM-DD); HoursError otherwise."""
    return _date(value.strip())


# --- the questions -----------------------------------------------------------------------


def is_open(
    hours: Hours | None, holidays: Iterable[date | str] | None, tz: str | tzinfo, now: datetime
) -> bool:
    """Whether the shop is open at `now`."""
    moment = _utc(now)
    return any(
        opens <= moment < closes
        for opens, closes in _intervals(hours, holidays, tz, moment, moment + timedelta(days=1))
    )


def next_opening(
    hours: Hours | None, holidays: Iterable[date | str] | None, tz: str | tzinfo, now: datetime
) -> datetime | None:
    """`now` when the shop is open, else the moment it next opens (in the shop's zone);
    None when it has no opening within HORIZON_DAYS (no hours at all)."""
    zone = _zone(tz)
    moment = _utc(now)
    end = moment + timedelta(days=HORIZON_DAYS)
    for opens, closes in _intervals(hours, holidays, zone, moment, end):
        if closes <= moment:
            continue
        return max(opens, moment).astimezone(zone)
    return None


def next_closing(
    hours: Hours | None, holidays: Iterable[date | str] | None, tz: str | tzinfo, now: datetime
) -> datetime | None:
    """When the shop closes next if open at `now`, else None."""
    zone = _zone(tz)
    moment = _utc(now)
    for opens, closes in _intervals(hours, holidays, zone, moment, moment + timedelta(days=8)):
        if opens <= moment < closes:
            return closes.astimezone(zone)
    return None


def business_seconds_between(
    hours: Hours | None,
    holidays: Iterable[date | str] | None,
    tz: str | tzinfo,
    start: datetime,
    end: datetime,
) -> float:
    """Seconds of open time between `start` and `end` (0 when end is not after start)."""
    low, high = _utc(start), _utc(end)
    if high <= low:
        return 0.0
    total = 0.0
    for opens, closes in _intervals(hours, holidays, tz, low, high):
        overlap = (min(closes, high) - max(opens, low)).total_seconds()
        if overlap > 0:
            total += overlap
    return total


def add_business_seconds(
    hours: Hours | None,
    holidays: Iterable[date | str] | None,
    tz: str | tzinfo,
    start: datetime,
    seconds: float,
) -> datetime | None:
    """The moment `seconds` of open time have passed since `start` (a deadline counted
    in business hours), in the shop's zone; None when that is beyond HORIZON_DAYS."""
    zone = _zone(tz)
    moment = _utc(start)
    left = max(0.0, float(seconds))
    for opens, closes in _intervals(
        hours, holidays, zone, moment, moment + timedelta(days=HORIZON_DAYS)
    ):
        if closes <= moment:
            continue
        begin = max(opens, moment)
        span = (closes - begin).total_seconds()
        if left <= span:
            return (begin + timedelta(seconds=left)).astimezone(zone)
        left -= span
    return None


# --- saying it (es-MX) -------------------------------------------------------------------

DAY_NAMES_ES = ("lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo")
MONTH_NAMES_ES = (
    "enero",
    "febrero",
    "marzo",
    "abril",
    "mayo",
    "junio",
    "julio",
    "agosto",
    "septiembre",
    "octubre",
    "noviembre",
    "diciembre",
)


def describe_opening(opening: datetime, now: datetime) -> str:
    """ "hoy a las 09:00", "mañana a las 09:00", "el lunes 5 de enero a las 09:00",
    for an opening and the current moment, in the opening's zone."""
    local_now = _utc(now).astimezone(opening.tzinfo)
    at = f"a las {opening:%H:%M}"
    days = (opening.date() - local_now.date()).days
    if days == 0:
        return f"hoy {at}"
    if days == 1:
        return f"mañana {at}"
    day = DAY_NAMES_ES[opening.weekday()]
    return f"el {day} {opening.day} de {MONTH_NAMES_ES[opening.month - 1]} {at}"


# --- the arithmetic ----------------------------------------------------------------------


def _intervals(
    hours: Hours | None,
    holidays: Iterable[date | str] | None,
    tz: str | tzinfo,
    low: datetime,
    high: datetime,
) -> Iterator[Interval]:
    """Open intervals (UTC, sorted, merged, holidays cut out) touching [low, high]."""
    zone = _zone(tz)
    hours = hours or {}
    closed = holidays_of(hours) if holidays is None else frozenset(_date(d) for d in holidays)
    first = low.astimezone(zone).date() - timedelta(days=1)  # an overnight range of the day before
    last = high.astimezone(zone).date()
    pending: Interval | None = None
    day = first
    while day <= last:
        for opens, closes in _day_intervals(hours, closed, zone, day):
            if pending is None:
                pending = (opens, closes)
            elif opens <= pending[1]:
                pending = (pending[0], max(pending[1], closes))
            else:
                yield pending
                pending = (opens, closes)
        day += timedelta(days=1)
    if pending is not None:
        yield pending


def _day_intervals(
    hours: Hours, closed: frozenset[date], zone: tzinfo, day: date
) -> list[Interval]:
    """The ranges that start on local `day`, as UTC intervals, without holiday parts."""
    pieces: list[Interval] = []
    for pair in hours.get(WEEKDAYS[day.weekday()]) or []:
        start, end = str(pair[0]), str(pair[1])
        start_min, end_min = _minutes(start), _minutes(end)
        end_day = day if end_min > start_min else day + timedelta(days=1)
        if end_min == 24 * 60:
            end_day, end_min = day + timedelta(days=1), 0
        opens = _local(day, start_min, zone)
        closes = _local(end_day, end_min, zone)
        # cut out holidays: keep only the parts on working calendar days
        cursor = day
        while cursor <= end_day:
            day_start = _local(cursor, 0, zone)
            day_end = _local(cursor + timedelta(days=1), 0, zone)
            lo, hi = max(opens, day_start), min(closes, day_end)
            if lo < hi and cursor not in closed:
                pieces.append((lo, hi))
            cursor += timedelta(days=1)
    pieces.sort()
    return pieces


def _local(day: date, minutes: int, zone: tzinfo) -> datetime:
    moment = datetime.combine(day, time(minutes // 60, minutes % 60), tzinfo=zone)
    return moment.astimezone(UTC)


def _minutes(value: str, day: str = "") -> int:
    if not _TIME.match(value):
        where = f"{day}: " if day else ""
        raise HoursError(f"{where}bad time {value!r} (expected HH:MM, 00:00-24:00)")
    hh, mm = value.split(":")
    return int(hh) * 60 + int(mm)


def _date(value: date | str) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise HoursError(f"bad holiday {value!r} (expected YYYY-MM-DD)") from None


def _zone(tz: str | tzinfo) -> tzinfo:
    if isinstance(tz, tzinfo):
        return tz
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise HoursError(f"unknown time zone {tz!r}") from None


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("business hours need an aware datetime")
    return moment.astimezone(UTC)

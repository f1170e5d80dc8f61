"""Business hours and holidays: pure arithmetic across midnight, weekends and holidays."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from chatcentral.conversation import hours as h

MX = ZoneInfo("America/Mexico_City")
WEEK = {
    **{day: [["09:00", "18:00"]] for day in ("mon", "tue", "wed", "thu", "fri")},
    "sat": [["09:00", "14:00"]],
    "sun": [],
}


def at(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=MX)


# 2026-01-05 is a Monday.


def test_open_inside_a_range_and_closed_at_its_end() -> None:
    assert h.is_open(WEEK, [], MX, at(2026, 1, 5, 9, 0))
    assert h.is_open(WEEK, [], MX, at(2026, 1, 5, 17, 59))
    assert not h.is_open(WEEK, [], MX, at(2026, 1, 5, 18, 0))
    assert not h.is_open(WEEK, [], MX, at(2026, 1, 5, 8, 59))


def test_the_zone_is_the_shops_not_the_moments() -> None:
    # 16:00 UTC is 10:00 in Mexico City (UTC-6): open; 02:00 UTC is 20:00 the day before
    assert h.is_open(WEEK, [], "America/Mexico_City", datetime(2026, 1, 5, 16, tzinfo=UTC))
    assert not h.is_open(WEEK, [], "America/Mexico_City", datetime(2026, 1, 6, 2, tzinfo=UTC))


def test_next_opening_is_now_when_open() -> None:
    now = at(2026, 1, 5, 10, 30)
    assert h.next_opening(WEEK, [], MX, now) == now


def test_next_opening_across_midnight() -> None:
    assert h.next_opening(WEEK, [], MX, at(2026, 1, 5, 23, 30)) == at(2026, 1, 6, 9)
    assert h.next_opening(WEEK, [], MX, at(2026, 1, 6, 0, 15)) == at(2026, 1, 6, 9)


def test_next_opening_over_the_weekend() -> None:
    # Saturday after closing and all of Sunday: Monday 09:00
    assert h.next_opening(WEEK, [], MX, at(2026, 1, 10, 14, 0)) == at(2026, 1, 12, 9)
    assert h.next_opening(WEEK, [], MX, at(2026, 1, 11, 12, 0)) == at(2026, 1, 12, 9)


def test_holidays_are_closed_and_skipped() -> None:
    holidays = [date(2026, 1, 12)]  # that Monday
    assert not h.is_open(WEEK, holidays, MX, at(2026, 1, 12, 10))
    assert h.next_opening(WEEK, holidays, MX, at(2026, 1, 10, 15)) == at(2026, 1, 13, 9)


def test_holidays_read_from_the_hours_own_key() -> None:
    hours = {**WEEK, "holidays": ["2026-01-12", "2026-01-13"]}
    assert h.next_opening(hours, None, MX, at(2026, 1, 11, 12)) == at(2026, 1, 14, 9)
    # an explicit list wins over the key
    assert h.next_opening(hours, [], MX, at(2026, 1, 11, 12)) == at(2026, 1, 12, 9)


def test_overnight_range_and_a_holiday_cutting_it() -> None:
    night = {"fri": [["20:00", "02:00"]]}
    assert h.is_open(night, [], MX, at(2026, 1, 10, 1, 30))  # Saturday 01:30
    assert not h.is_open(night, [], MX, at(2026, 1, 10, 2, 0))
    assert h.next_closing(night, [], MX, at(2026, 1, 9, 23)) == at(2026, 1, 10, 2)
    # Saturday a holiday: Friday's night closes at midnight
    assert not h.is_open(night, [date(2026, 1, 10)], MX, at(2026, 1, 10, 1, 30))
    assert h.next_closing(night, [date(2026, 1, 10)], MX, at(2026, 1, 9, 23)) == at(2026, 1, 10)


def test_ranges_to_midnight_join_the_next_day() -> None:
    always = {day: [["00:00", "24:00"]] for day in h.WEEKDAYS}
    assert h.is_open(always, [], MX, at(2026, 1, 5, 23, 59))
    assert h.next_closing(always, [date(2026, 1, 8)], MX, at(2026, 1, 5, 12)) == at(2026, 1, 8)


def test_no_hours_no_opening() -> None:
    assert h.next_opening({}, [], MX, at(2026, 1, 5)) is None
    assert not h.is_open(None, None, MX, at(2026, 1, 5, 12))


def test_business_seconds_count_only_open_time() -> None:
    holidays = [date(2026, 1, 12)]
    # Friday 17:00 → Tuesday 10:00: Fri 1 h + Sat 5 h + (Mon holiday) + Tue 1 h
    seconds = h.business_seconds_between(
        WEEK, holidays, MX, at(2026, 1, 9, 17), at(2026, 1, 13, 10)
    )
    assert seconds == 7 * 3600
    assert h.business_seconds_between(WEEK, [], MX, at(2026, 1, 5, 19), at(2026, 1, 6, 8)) == 0
    assert h.business_seconds_between(WEEK, [], MX, at(2026, 1, 6), at(2026, 1, 5)) == 0


def test_add_business_seconds_waits_for_the_opening() -> None:
    # a ten-minute clock started at 13:55 on Saturday: 5 min then, 5 more on Monday
    assert h.add_business_seconds(WEEK, [], MX, at(2026, 1, 10, 13, 55), 600) == at(
        2026, 1, 12, 9, 5
    )
    assert h.add_business_seconds(WEEK, [], MX, at(2026, 1, 5, 10), 600) == at(2026, 1, 5, 10, 10)
    assert h.add_business_seconds({}, [], MX, at(2026, 1, 5, 10), 600) is None


def test_business_time_agrees_with_the_deadline() -> None:
    start = at(2026, 1, 9, 16, 20)
    deadline = h.add_business_seconds(WEEK, [], MX, start, 3 * 3600)
    assert deadline is not None
    assert h.business_seconds_between(WEEK, [], MX, start, deadline) == 3 * 3600
    assert deadline == at(2026, 1, 10, 10, 20)  # Fri 1 h 40 min, then Sat from 09:00


def test_describe_opening_in_spanish() -> None:
    now = at(2026, 1, 9, 20)  # Friday
    assert h.describe_opening(at(2026, 1, 9, 21), now) == "hoy a las 21:00"
    assert h.describe_opening(at(2026, 1, 10, 9), now) == "mañana a las 09:00"
    assert h.describe_opening(at(2026, 1, 12, 9), now) == "el lunes 12 de enero a las 09:00"


def test_validate_normalises_and_refuses() -> None:
    checked = h.validate({"mon": [["09:00", "18:00"]], "holidays": ["2026-12-25", "2026-01-01"]})
    assert checked["sun"] == []
    assert checked["holidays"] == ["2026-01-01", "2026-12-25"]
    for bad, word in [
        ({"mon": [["9:00", "18:00"]]}, "bad time"),
        ({"mon": [["09:00", "25:00"]]}, "bad time"),
        ({"mon": [["09:00", "09:00"]]}, "empty range"),
        ({"lunes": []}, "unknown key"),
        ({"holidays": ["25/12/2026"]}, "bad holiday"),
    ]:
        with pytest.raises(h.HoursError, match=word):
            h.validate(bad)


def test_day_specs_as_an_operator_types_them() -> None:
    assert h.parse_days_spec("mon-fri 09:00-18:00") == {
        day: [["09:00", "18:00"]] for day in ("mon", "tue", "wed", "thu", "fri")
    }
    assert h.parse_days_spec("sáb 9:00-14:00") == {"sat": [["09:00", "14:00"]]}
    assert h.parse_days_spec("mon,wed 16:00-20:00, 09:00-13:00") == {
        "mon": [["09:00", "13:00"], ["16:00", "20:00"]],
        "wed": [["09:00", "13:00"], ["16:00", "20:00"]],
    }
    assert h.parse_days_spec("domingo cerrado") == {"sun": []}
    assert h.parse_days_spec("fri 20:00-02:00") == {"fri": [["20:00", "02:00"]]}
    for bad, word in [
        ("mon", "expected DAYS"),
        ("mon 9-18", "not a range"),
        ("funday 09:00-10:00", "unknown day"),
        ("sun-mon 09:00-10:00", "runs backwards"),
        ("mon 09:00-24:30", "bad time"),
    ]:
        with pytest.raises(h.HoursError, match=word):
            h.parse_days_spec(bad)
    assert h.parse_holiday(" 2026-12-25 ") == date(2026, 12, 25)

"""Business hours: parsing settings, open/closed at a moment in any time zone (DST included),
the next opening, and the spoken schedule and status in English and Russian."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from brain.hours import END_OF_DAY, BusinessHours

MSK = ZoneInfo("Europe/Moscow")


@pytest.fixture
def clinic() -> BusinessHours:
    return BusinessHours.parse(
        "Europe/Moscow",
        {"mon-fri": "09:00-13:00, 14:00-18:00", "sat": "10:00-14:00", "sun": "closed"},
        closed_dates=["2025-01-01", "2025-01-02"],
    )


def at(text: str, zone: ZoneInfo = MSK) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=zone)


def test_parse_builds_weekly_intervals(clinic: BusinessHours) -> None:
    assert clinic.weekly[0] == ((time(9), time(13)), (time(14), time(18)))
    assert clinic.weekly[4] == clinic.weekly[0]
    assert clinic.weekly[5] == ((time(10), time(14)),)
    assert clinic.weekly[6] == ()
    assert clinic.closed_dates == frozenset({date(2025, 1, 1), date(2025, 1, 2)})


@pytest.mark.parametrize(("moment", "is_open"), [
    ("2025-06-02 09:00", True),   # Monday, opening minute
    ("2025-06-02 08:59", False),
    ("2025-06-02 13:30", False),  # lunch break
    ("2025-06-02 17:59", True),
    ("2025-06-02 18:00", False),  # closing minute is closed
    ("2025-06-07 11:00", True),   # Saturday
    ("2025-06-08 11:00", False),  # Sunday
    ("2025-01-01 10:00", False),  # a holiday on a Wednesday
])
def test_is_open(clinic: BusinessHours, moment: str, is_open: bool) -> None:
    assert clinic.is_open(at(moment)) is is_open


def test_is_open_converts_other_zones(clinic: BusinessHours) -> None:
    # 06:30 UTC is 09:30 in Moscow; 17:00 in New York (EDT) is 00:00 next day in Moscow
    assert clinic.is_open(datetime(2025, 6, 2, 6, 30, tzinfo=UTC))
    assert not clinic.is_open(datetime(2025, 6, 2, 17, 0, tzinfo=ZoneInfo("America/New_York")))


def test_naive_datetimes_are_refused(clinic: BusinessHours) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        clinic.is_open(datetime(2025, 6, 2, 10, 0))


@pytest.mark.parametrize(("moment", "expected"), [
    ("2025-06-02 08:00", "2025-06-02 09:00"),
    ("2025-06-02 10:00", "2025-06-02 14:00"),  # open now: the next opening is after lunch
    ("2025-06-02 13:15", "2025-06-02 14:00"),
    ("2025-06-06 19:00", "2025-06-07 10:00"),  # Friday evening -> Saturday
    ("2025-06-07 15:00", "2025-06-09 09:00"),  # Saturday afternoon -> Monday
    ("2024-12-31 19:00", "2025-01-03 09:00"),  # over the holidays
])
def test_next_opening(clinic: BusinessHours, moment: str, expected: str) -> None:
    nxt = clinic.next_opening(at(moment))
    assert nxt == at(expected)
    assert nxt.tzinfo is not None and nxt.utcoffset() == timedelta(hours=3)


def test_next_opening_none_when_never_open() -> None:
    never = BusinessHours.parse("UTC", {"daily": "closed"})
    assert never.next_opening(datetime(2025, 1, 1, tzinfo=UTC)) is None
    assert not never.is_open(datetime(2025, 1, 1, 12, tzinfo=UTC))


def test_daylight_saving_is_handled() -> None:
    # Berlin: on 2025-03-30 clocks jump from 02:00 to 03:00
    night = BusinessHours.parse("Europe/Berlin", {"daily": "02:30-05:00"})
    nxt = night.next_opening(datetime(2025, 3, 29, 23, 0, tzinfo=UTC))  # 00:00 local, +1
    assert nxt is not None and nxt.astimezone(UTC) == datetime(2025, 3, 30, 1, 30, tzinfo=UTC)
    assert night.is_open(datetime(2025, 3, 30, 2, 0, tzinfo=UTC))  # 04:00 CEST
    office = BusinessHours.parse("Europe/Berlin", {"mon-fri": "09:00-17:00"})
    assert office.is_open(datetime(2025, 3, 31, 7, 30, tzinfo=UTC))  # 09:30 CEST (+2)
    assert not office.is_open(datetime(2025, 3, 28, 7, 30, tzinfo=UTC))  # 08:30 CET (+1)


def test_describe_en_and_ru() -> None:
    hours = BusinessHours.parse("Europe/Moscow", {"mon-fri": "09:00-18:00",
                                                  "sat": "10:00-14:00", "sun": "closed"})
    assert hours.describe("en") == ("We're open Monday to Friday from 9 am to 6 pm, "
                                    "and Saturday from 10 am to 2 pm.")
    assert hours.describe("ru") == ("Мы работаем с понедельника по пятницу с 9 до 18, "
                                    "в субботу с 10 до 14.")


def test_describe_lunch_breaks_and_odd_days() -> None:
    hours = BusinessHours.parse("America/New_York", {
        "mon,wed,fri": "9:00-13:00, 14:00-17:30", "tue": "12:00-24:00", "sat-sun": "24h"})
    assert hours.describe("en") == (
        "We're open Monday, Wednesday and Friday from 9 am to 1 pm and from 2 pm to 5:30 pm, "
        "Tuesday from noon to midnight, and Saturday and Sunday around the clock.")
    assert hours.describe("ru") == (
        "Мы работаем в понедельник, среду и пятницу с 9 до 13 и с 14 до 17:30, "
        "во вторник с 12 до полуночи, в субботу и воскресенье круглосуточно.")


def test_describe_every_day_and_never() -> None:
    daily = BusinessHours.parse("UTC", {"daily": "08:00-20:00"})
    assert daily.describe("en") == "We're open every day from 8 am to 8 pm."
    assert daily.describe("ru") == "Мы работаем ежедневно с 8 до 20."
    never = BusinessHours.parse("UTC", {})
    assert never.describe("en") == "We're closed at the moment."
    assert never.describe("ru") == "Сейчас мы не работаем."


@pytest.mark.parametrize(("moment", "en", "ru"), [
    ("2025-06-02 10:00", "We're open now, until 1 pm.", "Сейчас мы работаем, до 13."),
    ("2025-06-02 13:15", "We're closed now; we open again today at 2 pm.",
     "Сейчас мы закрыты; откроемся сегодня в 14."),
    ("2025-06-02 20:00", "We're closed now; we open again tomorrow at 9 am.",
     "Сейчас мы закрыты; откроемся завтра в 9."),
    ("2025-06-07 15:00", "We're closed now; we open again Monday at 9 am.",
     "Сейчас мы закрыты; откроемся в понедельник в 9."),
    ("2024-12-23 19:00", "We're closed now; we open again tomorrow at 9 am.",
     "Сейчас мы закрыты; откроемся завтра в 9."),
    ("2024-12-31 19:00", "We're closed now; we open again Friday at 9 am.",
     "Сейчас мы закрыты; откроемся в пятницу в 9."),
])
def test_status(clinic: BusinessHours, moment: str, en: str, ru: str) -> None:
    assert clinic.status(at(moment), "en") == en
    assert clinic.status(at(moment), "ru") == ru


def test_status_far_ahead_and_never() -> None:
    summer = BusinessHours.parse("UTC", {"daily": "10:00-18:30"},
                                 closed_dates=[f"2025-01-{d:02d}" for d in range(1, 11)])
    now = datetime(2024, 12, 31, 19, 0, tzinfo=UTC)
    assert summer.status(now, "en") == "We're closed now; we open again January 11 at 10 am."
    assert summer.status(now, "ru") == "Сейчас мы закрыты; откроемся 11 января в 10."
    assert summer.status(datetime(2025, 2, 1, 18, 0, tzinfo=UTC), "en") == (
        "We're open now, until 6:30 pm.")
    never = BusinessHours.parse("UTC", {})
    assert never.status(now, "en") == "We're closed now."
    assert never.status(now, "ru") == "Сейчас мы закрыты."


def test_direct_construction_is_checked_too() -> None:
    hours = BusinessHours("UTC", {0: ((time(14), time(18)), (time(9), time(14)))})
    assert hours.weekly[0] == ((time(9), time(18)),)  # sorted; touching intervals merged
    assert hours.is_open(datetime(2025, 6, 2, 13, 59, tzinfo=UTC))
    with pytest.raises(ValueError, match="overlap"):
        BusinessHours("UTC", {0: ((time(9), time(14)), (time(13), time(18)))})
    with pytest.raises(ValueError, match="weekday"):
        BusinessHours("UTC", {7: ((time(9), time(14)),)})
    assert BusinessHours("UTC", {0: ((time(20), END_OF_DAY),)}).is_open(
        datetime(2025, 6, 2, 23, 59, 59, tzinfo=UTC))


@pytest.mark.parametrize(("timezone", "schedule", "closed", "message"), [
    ("Mars/Olympus", {"mon": "09:00-18:00"}, (), "time zone"),
    ("UTC", {"funday": "09:00-18:00"}, (), "bad day"),
    ("UTC", {"mon": "9 to 6"}, (), "bad hours"),
    ("UTC", {"mon": "09:00-25:00"}, (), "bad time"),
    ("UTC", {"mon": "18:00-09:00"}, (), "ends before it starts"),
    ("UTC", {"mon-fri": "09:00-18:00", "fri": "10:00-12:00"}, (), "given twice"),
    ("UTC", {"mon": "09:00-18:00"}, ["2025-13-01"], "closed date"),
    ("UTC", {"mon": 9}, (), "must be text"),
])
def test_parse_errors(timezone: str, schedule: dict, closed: list[str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        BusinessHours.parse(timezone, schedule, closed)


def test_parse_accepts_russian_day_names_and_wrapping_ranges() -> None:
    hours = BusinessHours.parse("Europe/Moscow", {"пн-пт": "9-18", "сб, вс": "выходной"})
    assert hours.weekly[4] == ((time(9), time(18)),)
    assert hours.weekly[5] == hours.weekly[6] == ()
    wrapped = BusinessHours.parse("UTC", {"fri-mon": "10:00-16:00"})
    assert sorted(wrapped.weekly) == [0, 4, 5, 6]

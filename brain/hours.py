"""Business hours: whether the business is open at a moment, when it opens next, and how to say
the schedule and the current status in Russian or English.

Times are wall-clock times in the business's own IANA time zone (zoneinfo + tzdata), so
daylight-saving changes and callers in other zones need no special handling by callers."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["END_OF_DAY", "BusinessHours"]

# "24:00" as an interval end: open until midnight.
END_OF_DAY = time.max

_DAY_NAMES = {
    **dict.fromkeys(("mon", "monday", "пн", "пон", "понедельник"), 0),
    **dict.fromkeys(("tue", "tues", "tuesday", "вт", "вторник"), 1),
    **dict.fromkeys(("wed", "wednesday", "ср", "среда"), 2),
    **dict.fromkeys(("thu", "thur", "thurs", "thursday", "чт", "четверг"), 3),
    **dict.fromkeys(("fri", "friday", "пт", "пятница"), 4),
    **dict.fromkeys(("sat", "saturday", "сб", "суббота"), 5),
    **dict.fromkeys(("sun", "sunday", "вс", "воскресенье"), 6),
}
_DAY_GROUPS = {
    **dict.fromkeys(("daily", "everyday", "every day", "all", "ежедневно"), tuple(range(7))),
    **dict.fromkeys(("weekdays", "workdays", "будни"), tuple(range(5))),
    **dict.fromkeys(("weekend", "weekends", "выходные"), (5, 6)),
}
_CLOSED = frozenset({"closed", "off", "-", "", "выходной", "закрыто", "нет"})
_INTERVAL = re.compile(r"^(\d{1,2})(?::(\d{2}))?\s*[-–—]\s*(\d{1,2})(?::(\d{2}))?$")
# How far ahead next_opening looks: a year covers any run of holidays.
_HORIZON_DAYS = 400

_EN_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_EN_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
              "September", "October", "November", "December")
_RU_DAYS_FROM = ("понедельника", "вторника", "среды", "четверга", "пятницы", "субботы",
                 "воскресенья")
_RU_DAYS_ON = ("понедельник", "вторник", "среду", "четверг", "пятницу", "субботу", "воскресенье")
_RU_MONTHS = ("января", "февраля", "марта", "апреля", "мая", "июня", "июля", "августа",
              "сентября", "октября", "ноября", "декабря")

Interval = tuple[time, time]


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r}: use an IANA name such as "
                         "'Europe/Moscow'") from exc


def _parse_days(key: str) -> list[int]:
    text = key.strip().casefold()
    if text in _DAY_GROUPS:
        return list(_DAY_GROUPS[text])
    days: list[int] = []
    for part in text.split(","):
        part = part.strip()
        if part in _DAY_GROUPS:
            days.extend(_DAY_GROUPS[part])
            continue
        ends = [p.strip() for p in re.split(r"\s*[-–—]\s*", part)]
        if not 1 <= len(ends) <= 2 or any(e not in _DAY_NAMES for e in ends):
            raise ValueError(f"bad day(s) {key!r} in the schedule: use names like 'mon', "
                             "'mon-fri', 'sat,sun', 'daily'")
        first, last = _DAY_NAMES[ends[0]], _DAY_NAMES[ends[-1]]
        day = first
        while True:  # ranges may wrap the week: "fri-mon"
            days.append(day)
            if day == last:
                break
            day = (day + 1) % 7
    return days


def _clock(hours: str, minutes: str | None, spec: str, *, end: bool) -> time:
    h, m = int(hours), int(minutes or 0)
    if end and h == 24 and m == 0:
        return END_OF_DAY
    if h > 23 or m > 59:
        raise ValueError(f"bad time in {spec!r}: hours 0-23 (24:00 as an end), minutes 0-59")
    return time(h, m)


def _parse_intervals(spec: str) -> tuple[Interval, ...]:
    text = spec.strip().casefold()
    if text in _CLOSED:
        return ()
    if text in ("24h", "24/7", "круглосуточно"):
        return ((time(0), END_OF_DAY),)
    intervals = []
    for part in text.split(","):
        m = _INTERVAL.match(part.strip())
        if not m:
            raise ValueError(f"bad hours {spec!r}: use 'HH:MM-HH:MM', several separated by "
                             "commas ('09:00-13:00, 14:00-18:00'), or 'closed'")
        start = _clock(m.group(1), m.group(2), spec, end=False)
        end = _clock(m.group(3), m.group(4), spec, end=True)
        intervals.append((start, end))
    return tuple(intervals)


def _check_day(day: int, intervals: tuple[Interval, ...]) -> tuple[Interval, ...]:
    if day not in range(7):
        raise ValueError(f"weekday {day!r} is not 0 (Monday) .. 6 (Sunday)")
    ordered = tuple(sorted(intervals))
    for start, end in ordered:
        if end <= start:
            raise ValueError(f"{_EN_DAYS[day]}: interval {start:%H:%M}-{end:%H:%M} ends before "
                             "it starts; split a shift that runs past midnight across two days")
    merged: list[Interval] = []
    for start, end in ordered:
        if merged and start < merged[-1][1]:
            raise ValueError(f"{_EN_DAYS[day]}: intervals overlap at {start:%H:%M}")
        if merged and start == merged[-1][1]:
            merged[-1] = (merged[-1][0], end)  # 09-13 and 13-18 are one opening
        else:
            merged.append((start, end))
    return tuple(merged)


@dataclass(frozen=True)
class BusinessHours:
    """Weekly opening intervals (weekday 0 = Monday; several per day, e.g. around a lunch
    break; an end of `END_OF_DAY` means until midnight) in `timezone`, minus `closed_dates`."""

    timezone: str
    weekly: Mapping[int, tuple[tuple[time, time], ...]]
    closed_dates: frozenset[date] = frozenset()

    def __post_init__(self) -> None:
        _zone(self.timezone)
        checked = {day: _check_day(day, tuple(spans)) for day, spans in self.weekly.items()}
        object.__setattr__(self, "weekly", checked)
        object.__setattr__(self, "closed_dates", frozenset(self.closed_dates))

    @classmethod
    def parse(cls, timezone: str, schedule: Mapping[str, str],
              closed_dates: Iterable[str] = ()) -> BusinessHours:
        """From settings: {"mon-fri": "09:00-18:00", "sat": "10:00-14:00", "sun": "closed"},
        hours may be "09:00-13:00, 14:00-18:00"; days not named are closed; closed dates are
        ISO "2025-01-01". Raises ValueError saying what is wrong."""
        weekly: dict[int, tuple[Interval, ...]] = {}
        for key, spec in schedule.items():
            if not isinstance(spec, str):
                raise ValueError(f"hours for {key!r} must be text like '09:00-18:00', "
                                 f"got {spec!r}")
            intervals = _parse_intervals(spec)
            for day in _parse_days(key):
                if day in weekly:
                    raise ValueError(f"{_EN_DAYS[day]} is given twice in the schedule")
                weekly[day] = intervals
        dates = set()
        for text in closed_dates:
            try:
                dates.add(date.fromisoformat(str(text).strip()))
            except ValueError as exc:
                raise ValueError(f"bad closed date {text!r}: use YYYY-MM-DD") from exc
        return cls(timezone, weekly, frozenset(dates))

    # -- questions about a moment ------------------------------------------------------

    def _local(self, now: datetime) -> datetime:
        if now.tzinfo is None or now.utcoffset() is None:
            raise ValueError("now must be timezone-aware (e.g. datetime.now(UTC))")
        return now.astimezone(_zone(self.timezone))

    def _intervals_on(self, day: date) -> tuple[Interval, ...]:
        if day in self.closed_dates:
            return ()
        return self.weekly.get(day.weekday(), ())

    def _current(self, local: datetime) -> Interval | None:
        clock = local.time()
        for start, end in self._intervals_on(local.date()):
            if start <= clock and (clock < end or end == END_OF_DAY):
                return start, end
        return None

    def is_open(self, now: datetime) -> bool:
        """Whether the business is open at `now` (timezone-aware, any zone)."""
        return self._current(self._local(now)) is not None

    def next_opening(self, now: datetime) -> datetime | None:
        """The next moment after `now` (strictly later) at which an opening interval starts, in
        the business's time zone: while closed, when it opens again; while open, the start of
        the next opening after this one. None when it never opens within a year."""
        local = self._local(now)
        zone = _zone(self.timezone)
        for offset in range(_HORIZON_DAYS):
            day = local.date() + timedelta(days=offset)
            for start, _end in self._intervals_on(day):
                # Through UTC and back: a start inside a DST gap lands on the real time.
                moment = datetime.combine(day, start, tzinfo=zone).astimezone(UTC).astimezone(zone)
                if moment > local:
                    return moment
        return None

    # -- speech ----------------------------------------------------------------------------

    def describe(self, language: str) -> str:
        """The weekly schedule as one spoken sentence, e.g. "We're open Monday to Friday from
        9 am to 6 pm, and Saturday from 10 am to 2 pm." / "Мы работаем с понедельника по
        пятницу с 9 до 18, в субботу с 10 до 14." Closed days are not mentioned."""
        ru = language == "ru"
        open_days = [d for d in range(7) if self.weekly.get(d)]
        if not open_days:
            return "Сейчас мы не работаем." if ru else "We're closed at the moment."
        if len(open_days) == 7 and len({self.weekly[d] for d in open_days}) == 1:
            hours = _say_intervals(self.weekly[0], ru)
            return f"Мы работаем ежедневно {hours}." if ru else f"We're open every day {hours}."
        groups: dict[tuple[Interval, ...], list[int]] = {}
        for day in open_days:
            groups.setdefault(self.weekly[day], []).append(day)
        parts = [f"{_say_days(days, ru)} {_say_intervals(spans, ru)}"
                 for spans, days in groups.items()]
        if ru:
            return f"Мы работаем {', '.join(parts)}."
        if len(parts) == 1:
            return f"We're open {parts[0]}."
        return f"We're open {', '.join(parts[:-1])}, and {parts[-1]}."

    def status(self, now: datetime, language: str) -> str:
        """Open or closed at `now`, said in one sentence: "We're open now, until 6 pm." /
        "We're closed now; we open again Monday at 9 am." (and the same in Russian)."""
        ru = language == "ru"
        local = self._local(now)
        current = self._current(local)
        if current is not None:
            until = _say_time(current[1], ru)
            return f"Сейчас мы работаем, до {until}." if ru else f"We're open now, until {until}."
        nxt = self.next_opening(now)
        if nxt is None:
            return "Сейчас мы закрыты." if ru else "We're closed now."
        when = _say_when(local.date(), nxt, ru)
        if ru:
            return f"Сейчас мы закрыты; откроемся {when}."
        return f"We're closed now; we open again {when}."


def _say_time(moment: time, ru: bool) -> str:
    if ru:
        if moment in (END_OF_DAY, time(0)):
            return "полуночи"  # "с полуночи", "до полуночи"
        return f"{moment.hour}" if moment.minute == 0 else f"{moment.hour}:{moment.minute:02d}"
    if moment == END_OF_DAY or moment == time(0):
        return "midnight"
    if moment == time(12):
        return "noon"
    hour = moment.hour % 12 or 12
    suffix = "am" if moment.hour < 12 else "pm"
    clock = f"{hour}" if moment.minute == 0 else f"{hour}:{moment.minute:02d}"
    return f"{clock} {suffix}"


def _say_intervals(spans: tuple[Interval, ...], ru: bool) -> str:
    if spans == ((time(0), END_OF_DAY),):
        return "круглосуточно" if ru else "around the clock"
    if ru:
        said = [f"с {_say_time(s, ru)} до {_say_time(e, ru)}" for s, e in spans]
        return " и ".join(said)
    said = [f"from {_say_time(s, ru)} to {_say_time(e, ru)}" for s, e in spans]
    return " and ".join(said)


def _runs(days: list[int]) -> list[list[int]]:
    runs: list[list[int]] = []
    for day in days:
        if runs and day == runs[-1][-1] + 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    return runs


def _join(items: list[str], word: str) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} {word} {items[-1]}"


def _say_days(days: list[int], ru: bool) -> str:
    """"Monday to Friday", "Monday, Wednesday and Friday" / "с понедельника по пятницу",
    "в понедельник, среду и пятницу"."""
    if ru:
        pieces: list[str] = []
        singles: list[int] = []
        for run in _runs(days):
            if len(run) >= 3:
                pieces.append(f"с {_RU_DAYS_FROM[run[0]]} по {_RU_DAYS_ON[run[-1]]}")
            else:
                singles.extend(run)
        if singles:
            on = _join([_RU_DAYS_ON[d] for d in singles], "и")
            pieces.append(("во " if singles[0] == 1 else "в ") + on)
        return _join(pieces, "и")
    names = [f"{_EN_DAYS[r[0]]} to {_EN_DAYS[r[-1]]}" if len(r) >= 3
             else _join([_EN_DAYS[d] for d in r], "and") for r in _runs(days)]
    return _join(names, "and")


def _say_when(today: date, moment: datetime, ru: bool) -> str:
    """"today at 2 pm", "tomorrow at 9 am", "Monday at 9 am", "January 7 at 9 am"."""
    clock = _say_time(moment.time(), ru)
    days = (moment.date() - today).days
    if ru:
        clock = "полночь" if moment.time() == time(0) else clock
        if days == 0:
            return f"сегодня в {clock}"
        if days == 1:
            return f"завтра в {clock}"
        if days < 7:
            weekday = moment.weekday()
            return f"{'во' if weekday == 1 else 'в'} {_RU_DAYS_ON[weekday]} в {clock}"
        return f"{moment.day} {_RU_MONTHS[moment.month - 1]} в {clock}"
    if days == 0:
        return f"today at {clock}"
    if days == 1:
        return f"tomorrow at {clock}"
    if days < 7:
        return f"{_EN_DAYS[moment.weekday()]} at {clock}"
    return f"{_EN_MONTHS[moment.month - 1]} {moment.day} at {clock}"

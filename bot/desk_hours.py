"""When staff answer in the desk's inbox: DESK_SCHEDULE parsed, and the next time someone will answer.

"mon-fri 07:30-11:30,13:30-17:00; sat 07:30-11:30" in Vietnam time (UTC+7, no daylight saving).
An empty schedule means always answering (the desk did not say).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from knowledge import VIETNAM as VIETNAM_ZONE

VIETNAM = VIETNAM_ZONE.utcoffset(None)  # one definition: knowledge.VIETNAM
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_PERIOD = re.compile(r"^(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$")


@dataclass(frozen=True)
class Schedule:
    """Opening periods per weekday (0 = Monday), in local time."""

    periods: tuple[tuple[tuple[time, time], ...], ...]  # 7 entries

    @property
    def always(self) -> bool:
        return not any(self.periods)

    def is_open(self, now_utc: datetime) -> bool:
        if self.always:
            return True
        local = now_utc + VIETNAM
        return any(start <= local.time() < end for start, end in self.periods[local.weekday()])

    def next_opening(self, now_utc: datetime) -> datetime | None:
        """The local time someone next answers; None when answering now (or always)."""
        if self.is_open(now_utc):
            return None
        local = now_utc + VIETNAM
        for days_ahead in range(8):
            day = (local + timedelta(days=days_ahead)).date()
            for start, _ in self.periods[day.weekday()]:
                opening = datetime.combine(day, start)
                if opening > local:
                    return opening
        return None


def _day_range(text: str) -> list[int]:
    first, _, last = text.partition("-")
    if first not in DAYS or (last and last not in DAYS):
        raise ValueError(f"{text!r}: days are {', '.join(DAYS)} or a range such as mon-fri")
    a, b = DAYS.index(first), DAYS.index(last or first)
    return list(range(a, b + 1)) if a <= b else [*range(a, 7), *range(0, b + 1)]


def parse_schedule(raw: str) -> Schedule:
    """Schedule from "days hh:mm-hh:mm[,hh:mm-hh:mm]; ..."; ValueError naming the bad part."""
    periods: list[list[tuple[time, time]]] = [[] for _ in DAYS]
    for part in filter(None, (p.strip() for p in raw.lower().split(";"))):
        days, _, hours = part.partition(" ")
        if not hours.strip():
            raise ValueError(f"{part!r}: expected days then hours, e.g. 'mon-fri 07:30-17:00'")
        for span in hours.replace(" ", "").split(","):
            match = _PERIOD.match(span)
            if not match:
                raise ValueError(f"{span!r}: hours are hh:mm-hh:mm")
            h1, m1, h2, m2 = (int(g) for g in match.groups())
            if not (h1 < 24 and h2 < 24 and m1 < 60 and m2 < 60) or (h1, m1) >= (h2, m2):
                raise ValueError(f"{span!r}: not a period within one day")
            for day in _day_range(days.strip()):
                periods[day].append((time(h1, m1), time(h2, m2)))
    return Schedule(tuple(tuple(sorted(p)) for p in periods))

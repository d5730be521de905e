"""A flow's business hours: when the team is at work, so rules can route differently after hours.

Stored in the flow settings as
    {"timezone": "Europe/Lisbon", "days": {"mon": "09:00-18:00", "sat": "10:00-14:00"}}
A day that is not listed is closed; no business hours at all means the team is always there.
A range may cross midnight ("22:00-06:00": from 22:00 that day to 06:00 the next).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.core.exceptions import ValidationError

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_RANGE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


@dataclass(frozen=True)
class BusinessHours:
    timezone: str = "UTC"
    days: dict[str, str] = field(default_factory=dict)  # "mon" -> "09:00-18:00"

    @property
    def configured(self) -> bool:
        return bool(self.days)

    def is_open(self, moment: datetime) -> bool:
        """Whether `moment` (timezone-aware) falls in business hours; always, if none are set."""
        if not self.configured:
            return True
        local = moment.astimezone(ZoneInfo(self.timezone))
        # Today's range, and yesterday's range when it runs past midnight into today.
        for offset in (0, 1):
            day = local - timedelta(days=offset)
            span = self.days.get(DAYS[day.weekday()])
            if not span:
                continue
            opens, closes = _parse_range(span)
            start = datetime.combine(day.date(), opens, tzinfo=local.tzinfo)
            end = datetime.combine(day.date(), closes, tzinfo=local.tzinfo)
            if end <= start:
                end += timedelta(days=1)
            if start <= local < end:
                return True
        return False

    def to_json(self) -> dict[str, Any]:
        return {"timezone": self.timezone, "days": dict(self.days)} if self.configured else {}

    @classmethod
    def from_json(cls, data: Any) -> BusinessHours:
        """Validate business hours; raises ValidationError with a message an admin can act on."""
        if data in (None, {}):
            return cls()
        if not isinstance(data, dict):
            raise ValidationError("Business hours must be an object with a timezone and days.")
        unknown = sorted(set(data) - {"timezone", "days"})
        if unknown:
            raise ValidationError(f"Unknown business-hours setting {unknown[0]!r}.")
        timezone = data.get("timezone", "UTC")
        try:
            ZoneInfo(str(timezone))
        except (ZoneInfoNotFoundError, ValueError):
            raise ValidationError(
                f"Unknown timezone {timezone!r} (use a name like Europe/Lisbon)."
            ) from None
        days = data.get("days", {})
        if not isinstance(days, dict):
            raise ValidationError("Business-hours days must map a day (mon..sun) to a range.")
        for day, span in days.items():
            if day not in DAYS:
                raise ValidationError(f"{day!r} is not a day; use one of {', '.join(DAYS)}.")
            if not isinstance(span, str):
                raise ValidationError(f"The hours of {day} must be text like 09:00-18:00.")
            _parse_range(span, day=day)
        return cls(timezone=str(timezone), days={day: days[day].strip() for day in days})


def _parse_range(span: str, *, day: str = "") -> tuple[time, time]:
    match = _RANGE.match(span)
    problem = f"The hours of {day} must look like 09:00-18:00, not {span!r}."
    if not match:
        raise ValidationError(problem)
    start_hour, start_minute, end_hour, end_minute = (int(part) for part in match.groups())
    if start_hour > 23 or start_minute > 59 or end_minute > 59 or (end_hour, end_minute) > (24, 0):
        raise ValidationError(problem)
    if (end_hour, end_minute) == (start_hour, start_minute):
        raise ValidationError(f"The hours of {day} open and close at the same time.")
    # "24:00" closes at midnight.
    closes = time(0, 0) if end_hour == 24 else time(end_hour, end_minute)
    return time(start_hour, start_minute), closes

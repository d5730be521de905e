from datetime import UTC, datetime

import pytest
from django.core.exceptions import ValidationError

from routing.business_hours import BusinessHours

LISBON_WEEKDAYS = {
    "timezone": "Europe/Lisbon",
    "days": {day: "09:00-18:00" for day in ("mon", "tue", "wed", "thu", "fri")},
}


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_no_business_hours_means_the_team_is_always_there():
    assert BusinessHours.from_json({}).is_open(at("2026-11-29 03:00"))


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        ("2026-11-26 09:00", True),  # Thursday 09:00 in Lisbon (UTC+0 in winter)
        ("2026-11-26 17:59", True),
        ("2026-11-26 18:00", False),  # closing time is out
        ("2026-11-26 08:59", False),
        ("2026-11-28 12:00", False),  # Saturday: not listed, closed
        ("2026-07-01 08:30", True),  # summer time: 08:30 UTC is 09:30 in Lisbon
        ("2026-07-01 17:30", False),  # 18:30 in Lisbon
    ],
)
def test_open_follows_the_workspace_timezone_and_days(moment, expected):
    assert BusinessHours.from_json(LISBON_WEEKDAYS).is_open(at(moment)) is expected


def test_a_night_shift_runs_past_midnight_into_the_next_day():
    hours = BusinessHours.from_json({"timezone": "UTC", "days": {"fri": "22:00-06:00"}})

    assert hours.is_open(at("2026-11-27 23:00"))  # Friday night
    assert hours.is_open(at("2026-11-28 05:59"))  # Saturday early morning, still Friday's shift
    assert not hours.is_open(at("2026-11-28 06:00"))
    assert not hours.is_open(at("2026-11-27 21:59"))


def test_until_midnight():
    hours = BusinessHours.from_json({"timezone": "UTC", "days": {"mon": "12:00-24:00"}})
    assert hours.is_open(at("2026-11-23 23:59"))
    assert not hours.is_open(at("2026-11-24 00:00"))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("9 to 5", "must be an object"),
        ({"timezone": "Mars/Olympus"}, "Unknown timezone 'Mars/Olympus'"),
        ({"days": {"monday": "09:00-17:00"}}, "'monday' is not a day"),
        ({"days": {"mon": "9-5"}}, "must look like 09:00-18:00"),
        ({"days": {"mon": "09:00-24:30"}}, "must look like 09:00-18:00"),
        ({"days": {"mon": "25:00-26:00"}}, "must look like 09:00-18:00"),
        ({"days": {"mon": "09:00-09:00"}}, "open and close at the same time"),
        ({"days": {"mon": ["09:00", "17:00"]}}, "must be text"),
        ({"days": ["mon"]}, "must map a day"),
        ({"hours": {}}, "Unknown business-hours setting 'hours'"),
    ],
)
def test_bad_business_hours_are_refused_with_a_reason(data, message):
    with pytest.raises(ValidationError, match=message):
        BusinessHours.from_json(data)


def test_round_trip_keeps_what_the_admin_set():
    assert BusinessHours.from_json(LISBON_WEEKDAYS).to_json() == LISBON_WEEKDAYS
    assert BusinessHours.from_json({}).to_json() == {}

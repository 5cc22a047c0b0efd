"""is_minor: representatives act for a minor only (under 18 on the day of `now`)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from server.policy import is_minor
from server.policy.age import age_on

BIRTH = date(2008, 6, 15)
LEAPLING = date(2008, 2, 29)


@pytest.mark.parametrize(
    ("birth", "today", "minor"),
    [
        (BIRTH, date(2026, 6, 14), True),  # 17 years and 364 days
        (BIRTH, date(2026, 6, 15), False),  # 18th birthday: an adult from its first hour
        (BIRTH, date(2026, 6, 16), False),
        (BIRTH, date(2008, 6, 15), True),  # the day of birth
        (BIRTH, date(2026, 1, 1), True),  # 18 this calendar year, not yet
        (date(2008, 12, 31), date(2026, 12, 30), True),
        (date(2008, 12, 31), date(2026, 12, 31), False),
        # Born on 29 February: in a common year the 18th anniversary is 1 March.
        (LEAPLING, date(2026, 2, 28), True),
        (LEAPLING, date(2026, 3, 1), False),
        # (18 is not a multiple of 4: a leapling's 18th birthday always falls in a
        # common year.)
        (date(2004, 2, 29), date(2022, 2, 28), True),
        (date(2004, 2, 29), date(2022, 3, 1), False),
        (date(2000, 2, 29), date(2018, 2, 28), True),
        (date(2000, 2, 29), date(2018, 3, 1), False),
        (date(1980, 3, 2), date(2026, 6, 15), False),
    ],
    ids=lambda value: value.isoformat() if isinstance(value, date) else str(value),
)
def test_is_minor_on_a_date(birth: date, today: date, minor: bool) -> None:
    assert is_minor(birth, today) is minor


def test_leap_year_birthday_in_a_leap_year() -> None:
    # In a leap year the anniversary is 29 February itself.
    assert age_on(LEAPLING, date(2024, 2, 28)) == 15
    assert age_on(LEAPLING, date(2024, 2, 29)) == 16


def test_datetime_uses_its_own_calendar_date() -> None:
    # The caller picks the time zone through `now`: late evening UTC the day before the
    # birthday is still the day before; the same instant in Paris is the birthday.
    late = datetime(2026, 6, 14, 23, 30, tzinfo=UTC)
    assert is_minor(BIRTH, late)
    paris_summer = timezone(timedelta(hours=2))
    assert not is_minor(BIRTH, late.astimezone(paris_summer))


def test_datetime_on_the_birthday() -> None:
    assert not is_minor(BIRTH, datetime(2026, 6, 15, 0, 0, tzinfo=UTC))
    assert is_minor(BIRTH, datetime(2026, 6, 14, 23, 59, 59, tzinfo=UTC))

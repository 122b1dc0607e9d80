"""Relative ages and short ids."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chatcli.render.timefmt import absolute_time, iso_utc, relative_age, short_id

NOW = datetime(2025, 3, 10, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("delta", "expected"),
    [
        (timedelta(0), "just now"),
        (timedelta(seconds=9), "just now"),
        (timedelta(seconds=42), "42s ago"),
        (timedelta(minutes=5, seconds=59), "5m ago"),
        (timedelta(hours=3), "3h ago"),
        (timedelta(hours=23, minutes=59), "23h ago"),
        (timedelta(days=2, hours=5), "2d ago"),
        (timedelta(days=29), "29d ago"),
        (timedelta(minutes=-2), "just now"),
    ],
)
def test_relative_age(delta: timedelta, expected: str) -> None:
    assert relative_age(NOW - delta, NOW) == expected


def test_old_dates_show_the_local_date() -> None:
    when = NOW - timedelta(days=65)
    assert relative_age(when, NOW) == when.astimezone().strftime("%Y-%m-%d")


def test_far_future_shows_the_date() -> None:
    when = NOW + timedelta(days=3)
    assert relative_age(when, NOW) == when.astimezone().strftime("%Y-%m-%d")


def test_naive_datetimes_are_utc() -> None:
    assert relative_age(datetime(2025, 3, 10, 11, 0, 0), NOW) == "1h ago"


def test_default_now_is_current_time() -> None:
    assert relative_age(datetime.now(UTC) - timedelta(minutes=3)) == "3m ago"


def test_absolute_time_is_local() -> None:
    assert absolute_time(NOW) == NOW.astimezone().strftime("%Y-%m-%d %H:%M")


def test_iso_utc_uses_z() -> None:
    assert iso_utc(datetime(2025, 1, 4, 12, 30, tzinfo=UTC)) == "2025-01-04T12:30:00Z"
    other = datetime(2025, 1, 4, 14, 30, 0, 5, tzinfo=UTC).astimezone()
    assert iso_utc(other) == "2025-01-04T14:30:00.000005Z"


def test_short_id() -> None:
    assert short_id("1a2b3c4d-0000-4000-8000-000000000000") == "1a2b3c4d"
    assert short_id("abc") == "abc"

"""Human-friendly times and ids for listings: ``5m ago``, ``2025-01-04``, ``1a2b3c4d``.

Nothing here raises, whatever the datetime and the local time zone: a time whose conversion to
UTC or to local time would overflow (``datetime.max`` in a zone east of UTC) is shown as it is,
in its own offset. Ids are shown with their control characters made visible.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from chatcli.sanitize import clean_inline

__all__ = ["SHORT_ID_LENGTH", "absolute_time", "iso_minute", "iso_utc", "relative_age", "short_id"]

#: How many characters of a session id listings show (like git's short hashes).
SHORT_ID_LENGTH = 8

_JUST_NOW = timedelta(seconds=10)
_CLOCK_SKEW = timedelta(minutes=5)
_RECENT = timedelta(days=30)


def _as_utc(dt: datetime) -> datetime:
    """``dt`` in UTC (naive: taken as UTC); one whose conversion overflows is kept as it is."""
    if dt.tzinfo is None:
        return dt.replace(tzinfo=UTC)
    try:
        return dt.astimezone(UTC)
    except (OverflowError, ValueError):
        return dt


def _local(dt: datetime) -> datetime:
    """Aware ``dt`` in local time; kept as it is when the conversion overflows (or the C library
    cannot say what local time it was)."""
    try:
        return dt.astimezone()
    except (OverflowError, ValueError, OSError):
        return dt


def relative_age(dt: datetime, now: datetime | None = None) -> str:
    """How long ago ``dt`` was: ``just now``, ``42s ago``, ``5m ago``, ``3h ago``, ``2d ago``.

    Beyond 30 days (or more than a few minutes in the future, a clock problem) it is the local
    date, ``YYYY-MM-DD``. Naive datetimes are taken as UTC.
    """
    when = _as_utc(dt)
    delta = _as_utc(now if now is not None else datetime.now(UTC)) - when
    if delta < -_CLOCK_SKEW or delta >= _RECENT:
        return _local(when).strftime("%Y-%m-%d")
    seconds = int(delta.total_seconds())
    if delta < _JUST_NOW:
        return "just now"
    if seconds < 60:
        return f"{seconds}s ago"
    if seconds < 3600:
        return f"{seconds // 60}m ago"
    if seconds < 86400:
        return f"{seconds // 3600}h ago"
    return f"{seconds // 86400}d ago"


def absolute_time(dt: datetime) -> str:
    """``dt`` in local time as ``YYYY-MM-DD HH:MM`` (naive datetimes are taken as UTC)."""
    return _local(_as_utc(dt)).strftime("%Y-%m-%d %H:%M")


def iso_utc(dt: datetime) -> str:
    """``dt`` as ISO 8601 in UTC with a ``Z`` suffix, e.g. ``2025-01-04T12:30:00.123456Z``."""
    return _as_utc(dt).isoformat().replace("+00:00", "Z")


def iso_minute(dt: datetime) -> str:
    """``dt`` in UTC to the minute, labelled: ``2025-01-04 12:30 UTC`` (naive: taken as UTC)."""
    return _as_utc(dt).strftime("%Y-%m-%d %H:%M UTC")


def short_id(session_id: str) -> str:
    """The first :data:`SHORT_ID_LENGTH` characters of a session id, safe to print (an id read
    from a planted index row or an import may hold control characters)."""
    return clean_inline(session_id[:SHORT_ID_LENGTH])

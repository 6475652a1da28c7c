"""ISO 8601 times as the API prints and accepts them; pure, no Flask."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

_DATE_ONLY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def iso_ms(timestamp: float) -> str:
    """Unix seconds as ``2026-02-01T14:30:00.000Z`` (UTC, milliseconds)."""
    return _format(datetime.fromtimestamp(timestamp, UTC))


def _format(moment: datetime) -> str:
    # Years are zero-padded to 4 digits, so that bounds compare correctly as strings.
    return (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}T{moment.hour:02d}:"
        f"{moment.minute:02d}:{moment.second:02d}.{moment.microsecond // 1000:03d}Z"
    )


def parse_bound(text: str, *, end: bool) -> str | None:
    """A ``dateFrom``/``dateTo`` value as a comparable ``...T..:..:...mmmZ`` string.

    A date alone means the whole UTC day: its first millisecond for ``dateFrom``, its last for
    ``dateTo``. A date-time without an offset is UTC. Returns None when it is not a valid date
    (including dates that leave the representable range once moved to UTC).
    """
    if not text.isascii():
        return None
    try:
        return _bound(text, end)
    except (ValueError, OverflowError):
        return None


def _bound(text: str, end: bool) -> str | None:
    if _DATE_ONLY.fullmatch(text):
        day = datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC)
        if end:
            day += timedelta(days=1, milliseconds=-1)
        return _format(day)
    if len(text) < 16 or text[10] not in "Tt ":
        return None
    candidate = text[:-1] + "+00:00" if text[-1] in "Zz" else text
    moment = datetime.fromisoformat(candidate)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    moment = moment.astimezone(UTC)
    if not end and moment.microsecond % 1000:
        # Round a sub-millisecond lower bound up, so it never admits an earlier millisecond.
        moment += timedelta(microseconds=1000 - moment.microsecond % 1000)
    return _format(moment)

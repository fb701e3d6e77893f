"""Time, declared once: `utc_now()` for timestamps, `parse_datetime` for times others send, `Clock` (time + sleep)
for code that waits."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any, Protocol


def utc_now() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(UTC)


def parse_datetime(value: Any) -> datetime | None:
    """ISO 8601 text or epoch seconds/milliseconds -> aware datetime (UTC when it names no zone); None when absent
    or unreadable. For times a sender or Constant Contact gives."""
    if value is None or isinstance(value, bool):
        return None
    try:
        if isinstance(value, int | float):
            seconds = value / 1000 if value > 1e11 else value
            return datetime.fromtimestamp(seconds, tz=UTC)
        if isinstance(value, str) and value.strip():
            text = value.strip().replace("Z", "+00:00")
            parsed = datetime.fromisoformat(text)
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    except (ValueError, OverflowError, OSError):
        return None
    return None


class Clock(Protocol):
    def time(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """Wall-clock time and real sleeps."""

    def time(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


SYSTEM_CLOCK = SystemClock()

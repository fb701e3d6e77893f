"""The sandbox clock: wall time plus an offset, optionally frozen, so tests can jump ahead instead of sleeping."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime


class SandboxClock:
    """Every time-dependent rule of the sandbox (token expiry, rate windows, daily quota, codes) reads this clock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._offset = 0.0
        self._frozen_at: float | None = None

    def time(self) -> float:
        """Seconds since the epoch, as the sandbox sees them."""
        with self._lock:
            if self._frozen_at is not None:
                return self._frozen_at
            return time.time() + self._offset

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.time(), tz=UTC)

    def advance(self, seconds: float) -> None:
        """Jump ahead (e.g. past a token's expiry or into the next UTC day)."""
        with self._lock:
            if self._frozen_at is not None:
                self._frozen_at += seconds
            else:
                self._offset += seconds

    def freeze(self) -> None:
        """Stop time where it is; only `advance` moves it until `unfreeze`."""
        with self._lock:
            if self._frozen_at is None:
                self._frozen_at = time.time() + self._offset

    def unfreeze(self) -> None:
        with self._lock:
            if self._frozen_at is not None:
                self._offset = self._frozen_at - time.time()
                self._frozen_at = None


def iso(ts: float | None) -> str | None:
    """ISO-8601 UTC with milliseconds, the shape Constant Contact uses for date-time fields."""
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{int(ts * 1000) % 1000:03d}Z"


def iso_date(ts: float | None) -> str | None:
    """ISO-8601 date (deleted_at is a `date` in the spec)."""
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%d")


def utc_day(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%d")

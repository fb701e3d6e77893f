"""The sandbox clock: wall time, scaled and offset, optionally frozen, so tests can jump or speed ahead."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime


class SandboxClock:
    """Every time-dependent rule of the sandbox (token expiry, rate windows, daily quota, activities) reads this.

    `scale` is sandbox seconds per real second (default 1): at 60, a sandbox minute passes in a real second, and the
    per-second rate window, the daily quota's 00:00 UTC reset, activity durations and token lifetimes all speed up
    together (one clock for everything; local/README.md "Time scale").
    """

    def __init__(self, scale: float = 1.0) -> None:
        _check_scale(scale)
        self._lock = threading.Lock()
        self._scale = scale
        # Real time passing is measured on the monotonic clock, so a wall-clock step cannot move sandbox time.
        self._anchor_real = time.monotonic()
        self._anchor = time.time()  # sandbox time at _anchor_real
        self._frozen_at: float | None = None

    def _running_time(self) -> float:
        return self._anchor + (time.monotonic() - self._anchor_real) * self._scale

    def time(self) -> float:
        """Seconds since the epoch, as the sandbox sees them."""
        with self._lock:
            if self._frozen_at is not None:
                return self._frozen_at
            return self._running_time()

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.time(), tz=UTC)

    @property
    def scale(self) -> float:
        return self._scale

    @scale.setter
    def scale(self, value: float) -> None:
        """Change the speed from now on (time already passed is kept)."""
        _check_scale(value)
        with self._lock:
            self._anchor, self._anchor_real = self._running_time(), time.monotonic()
            self._scale = value

    def advance(self, seconds: float) -> None:
        """Jump ahead (e.g. past a token's expiry or into the next UTC day)."""
        with self._lock:
            if self._frozen_at is not None:
                self._frozen_at += seconds
            else:
                self._anchor += seconds

    def freeze(self) -> None:
        """Stop time where it is; only `advance` moves it until `unfreeze`."""
        with self._lock:
            if self._frozen_at is None:
                self._frozen_at = self._running_time()

    def unfreeze(self) -> None:
        """Let time run again (at `scale`) from where it was frozen."""
        with self._lock:
            if self._frozen_at is not None:
                self._anchor, self._anchor_real = self._frozen_at, time.monotonic()
                self._frozen_at = None


def _check_scale(scale: float) -> None:
    if not scale > 0:
        raise ValueError("the time scale must be a positive number of sandbox seconds per real second")


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

"""Per-client limits (sliding-second rate, daily quota) and injected faults, all on the sandbox clock."""

from __future__ import annotations

import threading
from collections import defaultdict, deque
from dataclasses import dataclass

from local.cc_sandbox.clock import SandboxClock, utc_day


class SlidingWindowLimiter:
    """At most `per_second` requests per key in any sliding one-second window; 0 disables it.

    With `count_rejected`, a refused request counts too (so a client that keeps sending faster than the limit
    stays refused); without it, only accepted requests use up the window.
    """

    def __init__(self, clock: SandboxClock, per_second: float, *, count_rejected: bool = False) -> None:
        self._clock = clock
        self.per_second = per_second
        self.count_rejected = count_rejected
        self._lock = threading.Lock()
        self._hits: dict[str, deque[float]] = defaultdict(deque)

    def allow(self, key: str) -> bool:
        if self.per_second <= 0:
            return True
        now = self._clock.time()
        with self._lock:
            hits = self._hits[key]
            while hits and hits[0] <= now - 1.0:
                hits.popleft()
            allowed = len(hits) < self.per_second
            if allowed or self.count_rejected:
                hits.append(now)
            return allowed

    def reset(self) -> None:
        with self._lock:
            self._hits.clear()


class DailyQuota:
    """At most `limit` accepted requests per key per UTC day (resets at 00:00 UTC of the sandbox clock)."""

    def __init__(self, clock: SandboxClock, limit: int) -> None:
        self._clock = clock
        self.limit = limit
        self._lock = threading.Lock()
        self._counts: dict[tuple[str, str], int] = defaultdict(int)

    def exceeded(self, key: str) -> bool:
        """True when the key has used up today's quota (does not count this request)."""
        with self._lock:
            return self._counts[(key, utc_day(self._clock.time()))] >= self.limit

    def count(self, key: str) -> None:
        with self._lock:
            self._counts[(key, utc_day(self._clock.time()))] += 1

    def used_today(self, key: str) -> int:
        with self._lock:
            return self._counts[(key, utc_day(self._clock.time()))]

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()


def limit_refusal(rate: SlidingWindowLimiter, quota: DailyQuota, key: str) -> str | None:
    """Count one request against a key's limits: "quota" when the day is spent (answered first), "rate" when it is
    over the per-second window (the window counts it anyway), else None and the day counts it."""
    throttled = not rate.allow(key)
    if quota.exceeded(key):
        return "quota"
    if throttled:
        return "rate"
    quota.count(key)
    return None


@dataclass
class _Fault:
    status: int
    remaining: int
    path_prefix: str
    method: str | None


class FaultInjector:
    """Answers the next N requests matching a path prefix (and optionally a method) with a given status."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[_Fault] = []

    def add(self, status: int, count: int, path_prefix: str, method: str | None) -> None:
        with self._lock:
            self._faults.append(_Fault(status, count, path_prefix, method.upper() if method else None))

    def take(self, method: str, path: str) -> int | None:
        with self._lock:
            for fault in self._faults:
                if fault.remaining > 0 and path.startswith(fault.path_prefix) and fault.method in (None, method):
                    fault.remaining -= 1
                    return fault.status
            self._faults = [f for f in self._faults if f.remaining > 0]
            return None

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

"""A metric sink that keeps what it is given, for tests to assert on."""

from __future__ import annotations

import threading


class RecordingMetrics:
    """Keeps metrics in memory: `counts[name]` is the summed value (thread-safe, for tests with workers)."""

    def __init__(self) -> None:
        self.counts: dict[str, float] = {}
        self._lock = threading.Lock()

    def add_metric(self, name: str, unit: str, value: float) -> None:
        with self._lock:
            self.counts[name] = self.counts.get(name, 0) + value

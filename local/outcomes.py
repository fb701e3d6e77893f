"""The local stack's outcome counts and per-submission results, as /_local/status reports them."""

from __future__ import annotations

import logging
import threading
from collections import Counter
from typing import Any

SERVICE_LOGGER = "signup-relay"  # the Powertools Logger's stdlib logger (signup_relay.observability.SERVICE)


class OutcomeRecorder(logging.Handler):
    """Reads outcomes off the service's own structured log lines (the same ones CloudWatch gets)."""

    def __init__(self) -> None:
        super().__init__(level=logging.INFO)
        self.results: dict[str, dict[str, Any]] = {}
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        queued_id = getattr(record, "queued_id", None)
        outcome = getattr(record, "outcome", None)
        if not queued_id or not outcome:
            return
        with self._lock:
            self.counts[outcome] += 1
            self.results[queued_id] = {
                "outcome": outcome,
                "contact_id": getattr(record, "contact_id", None),
                "route": getattr(record, "route", None),
                "error_class": getattr(record, "error_class", None),
                "attempts": getattr(record, "attempts", None),
                "path": getattr(record, "path", None),  # "imported" / "merged" when the burst drain applied it
            }

    def snapshot(self) -> tuple[dict[str, int], dict[str, dict[str, Any]]]:
        with self._lock:
            return dict(self.counts), {key: dict(value) for key, value in self.results.items()}

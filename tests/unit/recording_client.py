"""The recording part of the fake Constant Contact clients the policy-path tests drive the V3 and V2 policies with."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from signup_relay.constant_contact.transport import CallMeter
from signup_relay.errors import ConflictError


class RecordingClient:
    """Answers lookups from a script (one contact or none per lookup; the last answer repeats), records every call as
    `(operation, payload, *details)`, counts it on the open meters, and answers 409 to the operations in
    `conflict_on`. Subclasses add the API's writes."""

    def __init__(self, *lookups: dict[str, Any] | None, conflict_on: Iterable[str] = ()) -> None:
        self._lookups = [[c] if c else [] for c in lookups] or [[]]
        self._conflict_on = set(conflict_on)
        self.calls: list[tuple[Any, ...]] = []
        self._meters: list[CallMeter] = []

    @contextmanager
    def meter(self) -> Iterator[CallMeter]:
        meter = CallMeter()
        self._meters.append(meter)
        yield meter

    def _call(self, operation: str, payload: Any, *details: Any) -> None:
        self.calls.append((operation, payload, *details))
        for meter in self._meters:
            meter.calls += 1
        if operation in self._conflict_on:
            raise ConflictError(f"{operation}: 409")

    @property
    def operations(self) -> list[str]:
        return [call[0] for call in self.calls]

    def payload(self, operation: str) -> Any:
        return next(call[1] for call in self.calls if call[0] == operation)

    def find_contacts_by_email(self, email: str) -> list[dict[str, Any]]:
        self._call("find", email)
        return self._lookups.pop(0) if len(self._lookups) > 1 else self._lookups[0]

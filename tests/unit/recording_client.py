"""Recording fake Constant Contact clients: the shared part, and the V3 client the policy tests drive."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from signup_relay.constant_contact.transport import CallMeter
from signup_relay.errors import ConflictError

CONTACT_ID = "c0000000-0000-0000-0000-000000000001"


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


class RecordingV3Client(RecordingClient):
    """The V3 client: answers lookups from a script and records every write the policy makes."""

    @property
    def writes(self) -> list[tuple[str, Any]]:
        """Every call but the lookups, as `(operation, payload)`."""
        return [(call[0], call[1]) for call in self.calls if call[0] not in ("find", "get")]

    def get_contact(self, contact_id: str) -> dict[str, Any]:
        self._call("get", contact_id)
        return {**(self._lookups[0][0] if self._lookups[0] else {}), "contact_id": contact_id}

    def create_contact(self, body: Mapping[str, Any]) -> dict[str, Any]:
        self._call("create", body)
        return {"contact_id": CONTACT_ID}

    def update_contact(self, contact_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        self._call("update", body)
        return {"contact_id": contact_id}

    def sign_up_form(self, body: Mapping[str, Any]) -> dict[str, Any]:
        self._call("sign_up_form", body)
        return {"contact_id": CONTACT_ID, "action": "updated" if self._lookups[0] else "created"}

    def resubscribe_contact(self, contact_id: str, list_ids: Sequence[str]) -> dict[str, Any]:
        self._call("resubscribe", list(list_ids))
        return {}

    def add_taggings(self, contact_ids: Sequence[str], tag_ids: Sequence[str]) -> dict[str, Any]:
        self._call("taggings_add", {"contact_ids": list(contact_ids), "tag_ids": list(tag_ids)})
        return {"activity_id": "a1", "state": "initialized"}

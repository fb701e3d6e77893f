"""In-memory stand-ins for the signup queue and the DLQ, for unit tests of intake and of the upsert attempt."""

from __future__ import annotations

from typing import Any

from signup_relay.errors import QueueUnavailableError
from signup_relay.models import FailureRecord


class FakeQueue:
    def __init__(self, *, fail: bool = False) -> None:
        self.sent: list[dict[str, Any]] = []
        self.delays: list[tuple[str, int]] = []  # (receipt handle, seconds) of each retry delay asked for
        self.fail = fail

    def send(self, body: str, *, group_id: str, dedupe_id: str) -> str:
        if self.fail:
            raise QueueUnavailableError("down")
        self.sent.append({"body": body, "group_id": group_id, "dedupe_id": dedupe_id})
        return f"m-{len(self.sent)}"

    def delay_retry(self, receipt_handle: str, seconds: int) -> None:
        self.delays.append((receipt_handle, seconds))


class FakeDlq:
    def __init__(self, *, fail: bool = False) -> None:
        self.records: list[FailureRecord] = []
        self.fail = fail

    def send(self, record: FailureRecord, *, dedupe_id: str) -> str:
        if self.fail:
            raise QueueUnavailableError("down")
        self.records.append(record)
        return "d-1"

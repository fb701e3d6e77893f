"""Send `contacts_json_import` activities within their limits and poll them to an end, with backoff.

One import carries at most 40,000 rows in under 4 MB; past either, Constant Contact drops the excess silently
(https://v3.developer.constantcontact.com/api_guide/import_contacts.html), so rows are cut into imports by
count and by serialized size. `GET /activities/{id}` answers `state` (initialized, processing, completed,
cancelled, failed, timed_out), `status` counters and `activity_errors`
(https://developer.constantcontact.com/api_guide/activity_status.html).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

MAX_ROWS = 40_000
MAX_BYTES = 4_000_000
BODY_MARGIN_BYTES = 64_000  # list ids, keys and separators, with room to spare: the limit is a silent drop
FINISHED = frozenset({"completed", "cancelled", "failed", "timed_out"})
FIRST_POLL_SECONDS = 1.0
MAX_POLL_SECONDS = 30.0


class ActivityClient(Protocol):
    def import_contacts_json(
        self, import_data: Sequence[Mapping[str, Any]], list_ids: Sequence[str]
    ) -> dict[str, Any]: ...

    def get_activity(self, activity_id: str) -> dict[str, Any]: ...


@dataclass(frozen=True)
class Finished:
    """An activity as last seen: `state` is one of FINISHED, or the last state seen when the wait ran out."""

    activity_id: str
    state: str
    created_at: str | None
    status: Mapping[str, Any]
    errors: tuple[str, ...]


def chunks(
    rows: Sequence[Mapping[str, Any]], *, max_rows: int = MAX_ROWS, max_bytes: int = MAX_BYTES
) -> Iterator[list[int]]:
    """Indices of `rows` cut into imports of at most `max_rows` rows and `max_bytes` of JSON."""
    budget = max_bytes - BODY_MARGIN_BYTES
    current: list[int] = []
    size = 0
    for index, row in enumerate(rows):
        row_size = len(json.dumps(row, separators=(",", ":")).encode()) + 1
        if current and (len(current) >= max_rows or size + row_size > budget):
            yield current
            current, size = [], 0
        current.append(index)
        size += row_size
    if current:
        yield current


def start_import(client: ActivityClient, rows: Sequence[Mapping[str, Any]], list_ids: Sequence[str]) -> Finished:
    """POST one import; its answer as a (not yet finished) activity."""
    answer = client.import_contacts_json(rows, list_ids)
    return _seen(answer, str(answer.get("activity_id") or ""))


def wait_for(
    client: ActivityClient,
    activity: Finished,
    *,
    clock: Callable[[], datetime],
    sleep: Callable[[float], None],
    timeout_seconds: float,
) -> Finished:
    """Poll until the activity has finished or `timeout_seconds` passed: 1 s, then doubling, at most 30 s apart."""
    deadline = clock().timestamp() + timeout_seconds
    wait = FIRST_POLL_SECONDS
    while activity.state not in FINISHED:
        left = deadline - clock().timestamp()
        if left <= 0:
            break
        sleep(min(wait, left))
        wait = min(MAX_POLL_SECONDS, wait * 2)
        seen = _seen(client.get_activity(activity.activity_id), activity.activity_id)
        activity = Finished(
            activity.activity_id, seen.state, activity.created_at or seen.created_at, seen.status, seen.errors
        )
    return activity


def _seen(answer: Mapping[str, Any], activity_id: str) -> Finished:
    return Finished(
        activity_id=activity_id,
        state=str(answer.get("state") or "initialized"),
        created_at=answer.get("created_at"),
        status=dict(answer.get("status") or {}),
        errors=tuple(str(e) for e in answer.get("activity_errors") or ()),
    )

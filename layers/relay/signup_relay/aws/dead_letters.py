"""Dead letters: the one builder of a FailureRecord, for both stages, and the writer to the DLQ FIFO queue.

A record's `error_class` and `message` (its reason) are decided here, by `error_class_of` and `dead_letter`;
receive keeps deliveries it authenticated but cannot use, upsert keeps sign-ups that cannot be applied
(docs/architecture.md §5).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from signup_relay.aws.queue import get_sqs_client, send_fifo
from signup_relay.caches import per_container
from signup_relay.config import get_settings
from signup_relay.errors import RelayError
from signup_relay.models import FailureRecord, QueuedSignup, to_json

REJECTED_CLASS = "rejected"  # the upsert policy refused the sign-up (e.g. a list that does not exist)
INVALID_MESSAGE_CLASS = "invalid_message"  # a queue message that receive did not write


def error_class_of(error: BaseException) -> str:
    """The record's error class: a RelayError's own, else `unexpected:<Type>` (a bug or an outage)."""
    return error.error_class if isinstance(error, RelayError) else f"unexpected:{type(error).__name__}"


def dead_letter(
    stage: Literal["receive", "upsert"],
    *,
    error_class: str,
    reason: str,
    failed_at: datetime,
    route: str = "",
    attempts: int = 1,
    queued: QueuedSignup | None = None,
    field_errors: Mapping[str, str] | None = None,
    body: bytes | None = None,
    body_id: str | None = None,
    received_at: datetime | None = None,
    content_type: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> FailureRecord:
    """The FailureRecord the DLQ keeps: the reason, and enough of the submission to replay it.

    An upsert record carries the queued sign-up; a receive record (or a message that is no sign-up) carries the
    body as received, already redacted by the caller, with `body_id` naming it and `received_at` saying when it
    arrived (a replay maps it as of then).
    """
    return FailureRecord(
        stage=stage,
        route=queued.signup.route if queued else route,
        error_class=error_class,
        message=reason,
        attempts=attempts,
        failed_at=failed_at,
        field_errors=dict(field_errors or {}),
        signup=queued.signup if queued else None,
        queued_id=queued.id if queued else body_id,
        received_at=queued.received_at if queued else received_at,
        content_type=content_type,
        body_base64=base64.b64encode(body).decode("ascii") if body is not None else None,
        headers=dict(headers or {}),
    )


@dataclass(frozen=True)
class DeadLetterQueue:
    url: str
    client: Any

    def send(self, record: FailureRecord, *, dedupe_id: str) -> str:
        """Keep `record`; raises QueueUnavailableError when it cannot be kept.

        Each record is its own FIFO message group: a group delivers one message at a time, so records sharing
        a group (a route's, a person's) could only be listed, shown and replayed ten at a time.
        """
        return send_fifo(self.client, self.url, to_json(record), group_id=dedupe_id, dedupe_id=dedupe_id)


@per_container(maxsize=1)
def get_dead_letter_queue() -> DeadLetterQueue:
    return DeadLetterQueue(url=get_settings().dlq_url, client=get_sqs_client())

"""The dead-letter FIFO queue: explicit FailureRecords from receive and upsert (and SQS redrives)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from signup_relay.aws.queue import get_sqs_client, send_fifo
from signup_relay.caches import per_container
from signup_relay.config import get_settings
from signup_relay.models import FailureRecord


@dataclass(frozen=True)
class DeadLetterQueue:
    url: str
    client: Any

    def send(self, record: FailureRecord, *, group_id: str, dedupe_id: str) -> str:
        """Keep `record`; raises QueueUnavailableError when it cannot be kept."""
        return send_fifo(self.client, self.url, record.model_dump_json(), group_id=group_id, dedupe_id=dedupe_id)


@per_container(maxsize=1)
def get_dead_letter_queue() -> DeadLetterQueue:
    return DeadLetterQueue(url=get_settings().dlq_url, client=get_sqs_client())

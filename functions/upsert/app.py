"""upsert: SQS FIFO batches -> Constant Contact upserts, partial batch failures, DLQ for the hopeless.

Data flow: docs/architecture.md §1.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from signup_relay.aws.dead_letters import get_dead_letter_queue
from signup_relay.aws.fifo_batch import process_fifo_batch
from signup_relay.aws.queue import get_signup_queue
from signup_relay.aws.quota_breaker import get_quota_breaker
from signup_relay.config import get_settings
from signup_relay.observability import logger, metrics, traced, traced_handler
from signup_relay.upsert.attempt import QueuedMessage, process_message
from signup_relay.upsert.wiring import get_upserter


@traced
def record_handler(record: dict[str, Any], requeued_groups: set[str]) -> None:
    attributes = record.get("attributes", {})
    message = QueuedMessage(
        message_id=record["messageId"],
        receipt_handle=record["receiptHandle"],
        body=record["body"],
        group_id=attributes.get("MessageGroupId") or "",
        attempts=int(attributes.get("ApproximateReceiveCount") or 1),
    )
    process_message(
        message,
        upserter_for=get_upserter,
        queue=get_signup_queue(),
        dlq=get_dead_letter_queue(),
        max_attempts=get_settings().max_receive_count,
        breaker=get_quota_breaker(fed_by_switch=True),  # invoked only while its trigger is on
        requeued_groups=requeued_groups,
    )


@logger.inject_lambda_context(clear_state=True)
@traced_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, list[dict[str, str]]]:
    # One set per batch: the message groups the quota breaker sent again (upsert/attempt.py, `_hand_back`).
    handler = partial(record_handler, requeued_groups=set())
    # A failed item also fails the rest of its message group in the batch: one person's sign-ups stay in order.
    return process_fifo_batch(event["Records"], handler)

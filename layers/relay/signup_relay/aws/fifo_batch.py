"""An SQS FIFO batch with partial batch failures (the event source's ReportBatchItemFailures).

Records are handled in order; a record that fails also fails the rest of its message group in this batch without
handling them, so one person's sign-ups stay in order when SQS delivers them again. Other groups go on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from signup_relay.observability import logger

# Hand-written instead of Powertools' SqsFifoPartialProcessor(skip_group_on_error=True), same semantics: its
# batch package imports asyncio and every event data class, ~17 ms of each upsert cold start, for this loop.


def process_fifo_batch(
    records: Iterable[dict[str, Any]], handle: Callable[[dict[str, Any]], None]
) -> dict[str, list[dict[str, str]]]:
    """`handle` each SQS record; the answer lists the failed ones (a record fails when `handle` raises)."""
    failed: list[str] = []
    failed_groups: set[str] = set()
    for record in records:
        group = record.get("attributes", {}).get("MessageGroupId", "")
        if group in failed_groups:
            failed.append(record["messageId"])
            continue
        try:
            handle(record)
        except Exception as error:  # noqa: BLE001 - any failure fails the item: SQS delivers it again
            logger.debug("record failed", extra={"message_id": record["messageId"], "error": type(error).__name__})
            failed.append(record["messageId"])
            failed_groups.add(group)
    return {"batchItemFailures": [{"itemIdentifier": message_id} for message_id in failed]}

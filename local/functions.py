"""The template's functions in this process: a handler imported from its module, the Lambda context it reads, and
the SQS event Lambda's event source mapping hands it."""

from __future__ import annotations

import importlib
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from local.gateway import ACCOUNT_ID

REGION = "us-east-1"

Handler = Callable[[dict[str, Any], Any], Any]


@dataclass
class LambdaContext:
    """What a handler reads from the Lambda context."""

    function_name: str
    aws_request_id: str
    memory_limit_in_mb: int = 512
    timeout_seconds: int = 20

    def __post_init__(self) -> None:
        self.invoked_function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{self.function_name}"
        self._deadline = time.monotonic() + self.timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class LocalFunction:
    """A handler imported from its module, invoked one event at a time (one warm container)."""

    def __init__(self, logical_id: str, module: str, handler: str, timeout_seconds: int = 20) -> None:
        self.name = logical_id
        self.handler: Handler = getattr(importlib.import_module(module), handler)
        self.timeout_seconds = timeout_seconds
        self._lock = threading.Lock()

    def invoke(self, event: dict[str, Any]) -> Any:
        from local import console_log  # imports signup_relay: after the stack has set the handlers' environment

        with self._lock, console_log.invoking(self.name):
            context = LambdaContext(
                function_name=self.name, aws_request_id=str(uuid.uuid4()), timeout_seconds=self.timeout_seconds
            )
            return self.handler(event, context)


def sqs_event(messages: list[dict[str, Any]], queue_arn: str) -> dict[str, Any]:
    """The event Lambda's SQS event source mapping delivers for a batch of received messages."""
    records = []
    for message in messages:
        attributes = message.get("Attributes", {})
        records.append(
            {
                "messageId": message["MessageId"],
                "receiptHandle": message["ReceiptHandle"],
                "body": message["Body"],
                "attributes": {
                    "ApproximateReceiveCount": attributes.get("ApproximateReceiveCount", "1"),
                    "SentTimestamp": attributes.get("SentTimestamp", ""),
                    "SenderId": attributes.get("SenderId", ACCOUNT_ID),
                    "ApproximateFirstReceiveTimestamp": attributes.get("ApproximateFirstReceiveTimestamp", ""),
                    "SequenceNumber": attributes.get("SequenceNumber", ""),
                    "MessageGroupId": attributes.get("MessageGroupId", ""),
                    "MessageDeduplicationId": attributes.get("MessageDeduplicationId", ""),
                },
                "messageAttributes": {},
                "md5OfBody": message.get("MD5OfBody", ""),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": REGION,
            }
        )
    return {"Records": records}

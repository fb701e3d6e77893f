"""The sign-up FIFO queue (receive -> upsert). boto3 is imported on first use to keep cold starts lean."""

from __future__ import annotations

import hashlib
import re
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

from signup_relay.caches import per_container
from signup_relay.config import get_settings
from signup_relay.errors import QueueUnavailableError

MAX_ID_LENGTH = 128
# MessageGroupId / MessageDeduplicationId: alphanumerics and ASCII punctuation, 1..128 characters.
_SQS_ID = re.compile(r"""[A-Za-z0-9!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~]{1,128}""")


def sqs_safe_id(value: str) -> str:
    """`value` itself when SQS accepts it as a group/dedupe id, else its sha256 (never a lossy rewrite)."""
    if _SQS_ID.fullmatch(value):
        return value
    return hashlib.sha256(value.encode("utf-8", "surrogateescape")).hexdigest()


def sqs_client(region_name: str | None = None) -> Any:
    """An SQS client with short timeouts: webhook senders give up after 5-30 s."""
    import boto3
    from botocore.config import Config

    config = Config(connect_timeout=2, read_timeout=5, retries={"max_attempts": 3, "mode": "standard"})
    return boto3.client("sqs", region_name=region_name, config=config)


@per_container(maxsize=1)
def get_sqs_client() -> Any:
    """The container's one SQS client (region from the environment)."""
    return sqs_client()


def send_fifo(client: Any, url: str, body: str, *, group_id: str, dedupe_id: str) -> str:
    """SendMessage to a FIFO queue; any AWS or network failure becomes QueueUnavailableError."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        response = client.send_message(
            QueueUrl=url,
            MessageBody=body,
            MessageGroupId=sqs_safe_id(group_id),
            MessageDeduplicationId=sqs_safe_id(dedupe_id),
        )
    except (BotoCoreError, ClientError) as error:
        raise QueueUnavailableError("the queue is unavailable, retry later", cause=type(error).__name__) from error
    return str(response["MessageId"])


@dataclass(frozen=True)
class SignupQueue:
    """The FIFO queue between receive and upsert."""

    url: str
    client: Any

    def send(self, body: str, *, group_id: str, dedupe_id: str) -> str:
        """Queue one message; SQS drops a second one with the same dedupe id within 5 minutes."""
        return send_fifo(self.client, self.url, body, group_id=group_id, dedupe_id=dedupe_id)

    def delay_retry(self, receipt_handle: str, seconds: int) -> None:
        """Keep a failed message invisible for `seconds` (retry backoff); best effort."""
        from botocore.exceptions import BotoCoreError, ClientError

        # On failure the queue's own visibility timeout still applies.
        with suppress(BotoCoreError, ClientError):
            self.client.change_message_visibility(
                QueueUrl=self.url, ReceiptHandle=receipt_handle, VisibilityTimeout=max(0, min(seconds, 43_200))
            )

    def backlog(self) -> int:
        """ApproximateNumberOfMessages: visible messages, including those locked behind their message group."""
        attributes = self.client.get_queue_attributes(QueueUrl=self.url, AttributeNames=["ApproximateNumberOfMessages"])
        return int(attributes["Attributes"].get("ApproximateNumberOfMessages", 0))

    def receive(self, *, hold_seconds: int) -> list[dict[str, Any]]:
        """Up to 10 messages, hidden from every other consumer for `hold_seconds` (their group too, in a FIFO)."""
        response = self.client.receive_message(
            QueueUrl=self.url,
            MaxNumberOfMessages=10,
            VisibilityTimeout=max(0, min(hold_seconds, 43_200)),
            WaitTimeSeconds=0,
            MessageSystemAttributeNames=["ApproximateReceiveCount", "MessageGroupId"],
        )
        return list(response.get("Messages", []))

    def delete(self, receipt_handles: list[str]) -> None:
        """Delete held messages, 10 per call (a failed delete leaves the message to reappear: never lost)."""
        for start in range(0, len(receipt_handles), 10):
            entries = [
                {"Id": str(n), "ReceiptHandle": handle} for n, handle in enumerate(receipt_handles[start : start + 10])
            ]
            self.client.delete_message_batch(QueueUrl=self.url, Entries=entries)


@per_container(maxsize=1)
def get_signup_queue() -> SignupQueue:
    return SignupQueue(url=get_settings().queue_url, client=get_sqs_client())

"""Reading the dead-letter FIFO queue for the `dlq` tool: receive under a visibility timeout, delete, release.

Receiving hides a message from every other reader for `visibility_timeout` seconds, so two operators replaying
at once never re-send the same record. In a FIFO queue a message group is locked while one of its messages is
in flight: a group's later records only become readable once the earlier ones are deleted or released.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from signup_relay.caches import per_container

# The stack's Outputs (template.yaml) that name the queues.
DLQ_OUTPUT = "DeadLetterQueueUrl"
QUEUE_OUTPUT = "SignupQueueUrl"


@dataclass(frozen=True)
class DeadLetter:
    """One received DLQ message; held invisible until deleted, released, or its visibility timeout ends."""

    message_id: str
    receipt_handle: str
    body: str
    group_id: str
    sent_at: datetime | None


@dataclass(frozen=True)
class DeadLetterReader:
    url: str
    client: Any
    visibility_timeout: int = 120
    wait_seconds: int = 0  # >0 long-polls every SQS server: no false "empty" on the last receive

    def receive(self) -> list[DeadLetter]:
        """The next batch (up to 10), hidden from other readers for the visibility timeout."""
        response = self.client.receive_message(
            QueueUrl=self.url,
            MaxNumberOfMessages=10,
            VisibilityTimeout=self.visibility_timeout,
            WaitTimeSeconds=self.wait_seconds,
            MessageSystemAttributeNames=["MessageGroupId", "SentTimestamp"],
        )
        return [_dead_letter(message) for message in response.get("Messages", [])]

    def delete(self, letter: DeadLetter) -> bool:
        """Delete a held message; False when SQS refused (e.g. our visibility ran out and the handle expired)."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.delete_message(QueueUrl=self.url, ReceiptHandle=letter.receipt_handle)
        except (BotoCoreError, ClientError):
            return False
        return True

    def release(self, letters: list[DeadLetter]) -> None:
        """Make held messages visible again at once (best effort: otherwise they reappear after the timeout)."""
        from botocore.exceptions import BotoCoreError, ClientError

        for start in range(0, len(letters), 10):
            entries = [
                {"Id": str(index), "ReceiptHandle": letter.receipt_handle, "VisibilityTimeout": 0}
                for index, letter in enumerate(letters[start : start + 10])
            ]
            try:
                self.client.change_message_visibility_batch(QueueUrl=self.url, Entries=entries)
            except (BotoCoreError, ClientError):
                continue

    def counts(self) -> tuple[int, int]:
        """(available, in flight), approximate: available includes messages locked behind their group."""
        attributes = self.client.get_queue_attributes(
            QueueUrl=self.url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return (
            int(attributes.get("ApproximateNumberOfMessages", 0)),
            int(attributes.get("ApproximateNumberOfMessagesNotVisible", 0)),
        )


def _dead_letter(message: dict[str, Any]) -> DeadLetter:
    attributes = message.get("Attributes", {})
    sent = attributes.get("SentTimestamp")
    return DeadLetter(
        message_id=message["MessageId"],
        receipt_handle=message["ReceiptHandle"],
        body=message.get("Body", ""),
        group_id=attributes.get("MessageGroupId", ""),
        sent_at=datetime.fromtimestamp(int(sent) / 1000, UTC) if sent and sent.isdigit() else None,
    )


@per_container(maxsize=4)
def get_cloudformation_client(region_name: str | None = None) -> Any:
    import boto3

    return boto3.client("cloudformation", region_name=region_name)


def stack_outputs(stack_name: str, client: Any) -> dict[str, str]:
    """OutputKey -> OutputValue of a deployed stack."""
    stacks = client.describe_stacks(StackName=stack_name)["Stacks"]
    return {output["OutputKey"]: output["OutputValue"] for output in stacks[0].get("Outputs", [])}

"""The local queues deduplicate like SQS FIFO: a deduplication id is dropped for 5 minutes after its first send."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from local.aws_resources import DEDUPLICATION_INTERVAL, LocalResources, create_queues
from local.demo import send
from local.stack import LocalStack
from tests.conftest import load_event
from tests.local.stack_support import wait_until_drained


class ManualClock:
    """Seconds that only move when the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def queues(clock: ManualClock, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalResources]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "x",
        "AWS_SECRET_ACCESS_KEY": "x",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        yield create_queues(visibility_timeout=0, clock=clock)


def send_signup(url: str, body: str, *, group: str = "ada@example.com", dedupe: str = "delivery-1") -> None:
    boto3.client("sqs").send_message(
        QueueUrl=url, MessageBody=body, MessageGroupId=group, MessageDeduplicationId=dedupe
    )


def consume(url: str) -> list[str]:
    """Receive and delete whatever is deliverable; the bodies."""
    sqs = boto3.client("sqs")
    bodies = []
    for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        bodies.append(message["Body"])
        sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return bodies


def test_a_deduplication_id_is_dropped_for_five_minutes_even_after_its_first_copy_was_consumed(
    queues: LocalResources, clock: ManualClock
) -> None:
    # Given a sign-up that was queued and consumed
    send_signup(queues.queue_url, "first")
    assert consume(queues.queue_url) == ["first"]

    # When the same deduplication id is sent again at once, just before 5 minutes, and just after
    send_signup(queues.queue_url, "at once")
    at_once = consume(queues.queue_url)
    clock.now += DEDUPLICATION_INTERVAL - 1
    send_signup(queues.queue_url, "before five minutes")
    before = consume(queues.queue_url)
    clock.now += 2
    send_signup(queues.queue_url, "after five minutes")
    after = consume(queues.queue_url)

    # Then both copies within the interval are dropped (the interval counts from the first send) and the later one
    # is delivered
    assert (at_once, before, after) == ([], [], ["after five minutes"])


def test_deduplication_is_per_message_group_like_the_template_says(queues: LocalResources) -> None:
    # Given a consumed message of one group
    send_signup(queues.queue_url, "ada", group="ada@example.com")
    consume(queues.queue_url)

    # When another group sends the same deduplication id, and the DLQ gets the same id as the main queue
    send_signup(queues.queue_url, "grace", group="grace@example.com")
    send_signup(queues.dlq_url, "dead letter", group="ada@example.com")

    # Then both are delivered: the scope is (queue, group), as DeduplicationScope: messageGroup says
    assert consume(queues.queue_url) == ["grace"]
    assert consume(queues.dlq_url) == ["dead letter"]


def test_a_redriven_message_reaches_the_dlq_whatever_was_sent_there(queues: LocalResources) -> None:
    # Given a DLQ that got (and gave up) a message with some deduplication id, and a message with the same id on
    # the main queue whose every receive fails
    sqs: Any = boto3.client("sqs")
    send_signup(queues.dlq_url, "dead letter read earlier")
    assert consume(queues.dlq_url) == ["dead letter read earlier"]
    send_signup(queues.queue_url, "always failing")
    for _ in range(queues.max_receive_count):
        assert sqs.receive_message(QueueUrl=queues.queue_url).get("Messages")

    # When the queue is read once more
    sqs.receive_message(QueueUrl=queues.queue_url)

    # Then the redrive moved it to the DLQ: moving a message is not a send, so it is not deduplicated
    assert consume(queues.dlq_url) == ["always failing"]


def test_the_local_stack_drops_a_redelivered_webhook_after_the_first_copy_was_processed(stack: LocalStack) -> None:
    # Given a sign-up the stack has already queued, upserted and deleted from its queue
    event = load_event("generic_signup.json")
    assert send(stack.url, event)[0] == 200
    wait_until_drained(stack)
    assert stack.recorder.snapshot()[0] == {"created": 1}

    # When the sender delivers the same webhook again (its delivery id is the deduplication id)
    status, _body = send(stack.url, event)
    time.sleep(1)  # the poller's interval is 0.2 s: long enough for a queued copy to be upserted
    wait_until_drained(stack)

    # Then the sender is answered as before, and the queue never delivers the copy: no second upsert
    assert status == 200
    assert stack.recorder.snapshot()[0] == {"created": 1}

"""The delivery log: a delivery receive queued is answered, not queued again, for days; refusals are never recorded.

The receive handler in-process with moto (SQS FIFO, Secrets Manager, the DynamoDB delivery table from template.yaml).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import boto3
import pytest

from functions.receive import app
from local.aws_resources import LocalResources, demo_webhook_secrets, peek_messages, reset_relay_caches
from local.events.signers import sign_typeform
from tests.conftest import load_event
from tests.integration.relay_fixtures import FakeLambdaContext

SIX_MINUTES_MS = 6 * 60 * 1000


def invoke(event: dict[str, Any], context: FakeLambdaContext) -> tuple[int, dict[str, Any]]:
    response = app.lambda_handler(event, context)
    return response["statusCode"], json.loads(response["body"])


def recorded(resources: LocalResources) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = boto3.client("dynamodb").scan(TableName=resources.delivery_table)["Items"]
    return items


def typeform_delivery(event_id: str) -> dict[str, Any]:
    """The Typeform sample as another submission (its own event id and token), signed with the route's secret."""
    event = load_event("typeform_signup.json")
    payload = json.loads(event["body"])
    payload["event_id"] = event_id
    payload["form_response"]["token"] = f"token-{event_id}"
    body = json.dumps(payload).encode()
    event["body"] = body.decode()
    event["headers"].update(sign_typeform(event, body, demo_webhook_secrets()["typeform-newsletter"], 0))
    return event


@pytest.fixture
def sqs_later(monkeypatch: pytest.MonkeyPatch) -> Callable[[int], None]:
    """Moves moto's SQS clock ahead, past its 5-minute deduplication window (the delivery log keeps real time)."""
    import moto.sqs.models as sqs_models

    offset = {"ms": 0}
    real = sqs_models.unix_time_millis
    monkeypatch.setattr(sqs_models, "unix_time_millis", lambda *args: real(*args) + offset["ms"])

    def advance(milliseconds: int) -> None:
        offset["ms"] += milliseconds

    return advance


def test_the_same_signed_typeform_delivery_six_minutes_later_is_answered_and_not_queued_again(
    relay_aws: LocalResources, lambda_context, sqs_later
):
    # Given a signed Typeform delivery that was accepted and queued
    first = invoke(load_event("typeform_signup.json"), lambda_context)
    assert first[0] == 200

    # When the same bytes are sent again six minutes later, past SQS's 5-minute deduplication
    sqs_later(SIX_MINUTES_MS)
    second = invoke(load_event("typeform_signup.json"), lambda_context)

    # Then the sender gets the same answer and id, and the queue still holds one message
    assert second == first
    assert len(peek_messages(relay_aws.queue_url)) == 1
    assert len(recorded(relay_aws)) == 1


def test_without_the_delivery_table_only_sqs_five_minute_dedupe_protects(
    relay_aws: LocalResources, lambda_context, sqs_later, monkeypatch: pytest.MonkeyPatch
):
    # Given a receive function configured without the table (what the delivery log adds)
    monkeypatch.setenv("DELIVERY_IDEMPOTENCY_TABLE", "")
    first = invoke(load_event("typeform_signup.json"), lambda_context)

    # When the same delivery comes back six minutes later
    sqs_later(SIX_MINUTES_MS)
    second = invoke(load_event("typeform_signup.json"), lambda_context)

    # Then it is queued a second time
    assert first == second
    assert len(peek_messages(relay_aws.queue_url)) == 2


def test_a_different_delivery_is_queued(relay_aws: LocalResources, lambda_context):
    # Given one Typeform submission accepted
    first = invoke(typeform_delivery("01JDQ7ZK3M8W4T2N6B5X9C1RYE"), lambda_context)

    # When another submission of the same form arrives
    second = invoke(typeform_delivery("01JDQ8AAAAAAAAAAAAAAAAAAAA"), lambda_context)

    # Then both are accepted under their own ids and both are queued
    assert first[0] == second[0] == 200
    assert first[1]["id"] != second[1]["id"]
    assert len(peek_messages(relay_aws.queue_url)) == 2
    assert len(recorded(relay_aws)) == 2


def test_an_unauthenticated_request_with_a_real_delivery_id_records_nothing(relay_aws: LocalResources, lambda_context):
    # Given a request with the Idempotency-Key of a real Zapier delivery but a wrong token
    forged = load_event("generic_signup.json")
    forged["headers"]["x-signup-relay-token"] = "not-the-token"

    # When it is refused, and then the real delivery arrives
    refused = invoke(forged, lambda_context)
    accepted = invoke(load_event("generic_signup.json"), lambda_context)

    # Then the refusal left no record, so the real delivery is queued
    assert refused[0] == 401
    assert accepted == (200, {"accepted": True, "id": "generic:zap-run-6f1d2c0a-0001"})
    assert len(peek_messages(relay_aws.queue_url)) == 1


@pytest.mark.parametrize(
    ("event_file", "status"),
    [("generic_missing_email.json", 422), ("generic_wrong_content_type.json", 415), ("generic_bad_token.json", 401)],
)
def test_a_refused_delivery_is_not_remembered(relay_aws: LocalResources, lambda_context, event_file: str, status: int):
    answered, _ = invoke(load_event(event_file), lambda_context)
    assert answered == status
    assert recorded(relay_aws) == []


def test_a_delivery_answered_503_is_queued_when_the_sender_retries(
    relay_aws: LocalResources, lambda_context, monkeypatch: pytest.MonkeyPatch
):
    # Given a queue that is unavailable when the delivery first arrives
    monkeypatch.setenv("QUEUE_URL", relay_aws.queue_url.replace("signups", "missing"))
    unavailable = invoke(load_event("generic_signup.json"), lambda_context)
    assert unavailable[0] == 503
    assert recorded(relay_aws) == []

    # When the queue is back and the sender retries
    monkeypatch.setenv("QUEUE_URL", relay_aws.queue_url)
    reset_relay_caches()  # a new container: settings are read once per container
    retried = invoke(load_event("generic_signup.json"), lambda_context)

    # Then it is queued and recorded
    assert retried == (200, {"accepted": True, "id": "generic:zap-run-6f1d2c0a-0001"})
    assert len(peek_messages(relay_aws.queue_url)) == 1
    assert len(recorded(relay_aws)) == 1


def test_after_the_window_the_same_delivery_is_queued_again(relay_aws: LocalResources, lambda_context, sqs_later):
    # Given a delivery accepted, whose record has outlived DELIVERY_IDEMPOTENCY_DAYS (DynamoDB's TTL deletes late)
    invoke(load_event("generic_signup.json"), lambda_context)
    [item] = recorded(relay_aws)
    boto3.client("dynamodb").update_item(
        TableName=relay_aws.delivery_table,
        Key={"id": item["id"]},
        UpdateExpression="SET expiration = :past",
        ExpressionAttributeValues={":past": {"N": str(int(time.time()) - 1)}},
    )

    # When it is sent again
    sqs_later(SIX_MINUTES_MS)
    again = invoke(load_event("generic_signup.json"), lambda_context)

    # Then it is a new delivery: queued again
    assert again[0] == 200
    assert len(peek_messages(relay_aws.queue_url)) == 2


def test_the_record_expires_after_the_configured_days(relay_aws: LocalResources, lambda_context):
    # Given the template's default window
    before = int(time.time())
    invoke(load_event("generic_signup.json"), lambda_context)

    # Then the record's expiry (DynamoDB's TTL attribute) is 7 days ahead
    [item] = recorded(relay_aws)
    assert before + 7 * 86_400 <= int(item["expiration"]["N"]) <= int(time.time()) + 7 * 86_400
    assert item["status"]["S"] == "COMPLETED"


def test_an_unusable_delivery_table_does_not_refuse_sign_ups(
    relay_aws: LocalResources, lambda_context, monkeypatch: pytest.MonkeyPatch
):
    # Given a delivery table that cannot be used (missing, throttled, no permission)
    monkeypatch.setenv("DELIVERY_IDEMPOTENCY_TABLE", "missing-table")

    # When a delivery arrives
    answered = invoke(load_event("generic_signup.json"), lambda_context)

    # Then it is accepted and queued anyway (SQS's 5-minute dedupe and the policy's opt-out check still hold)
    assert answered == (200, {"accepted": True, "id": "generic:zap-run-6f1d2c0a-0001"})
    assert len(peek_messages(relay_aws.queue_url)) == 1


def test_a_delivery_another_invocation_is_still_queueing_is_queued_too(
    relay_aws: LocalResources, lambda_context, sqs_later
):
    # Given a record of this delivery still in progress (another invocation between its record and its send)
    invoke(load_event("generic_signup.json"), lambda_context)
    [item] = recorded(relay_aws)
    boto3.client("dynamodb").update_item(
        TableName=relay_aws.delivery_table,
        Key={"id": item["id"]},
        UpdateExpression="SET #status = :in_progress REMOVE #data",
        ExpressionAttributeNames={"#status": "status", "#data": "data"},
        ExpressionAttributeValues={":in_progress": {"S": "INPROGRESS"}},
    )

    # When the same delivery arrives (past SQS's dedupe window, so a second message would show)
    sqs_later(SIX_MINUTES_MS)
    answered = invoke(load_event("generic_signup.json"), lambda_context)

    # Then it is not refused: it is sent to the queue as well (SQS drops it if the other send lands within 5 minutes)
    assert answered == (200, {"accepted": True, "id": "generic:zap-run-6f1d2c0a-0001"})
    assert len(peek_messages(relay_aws.queue_url)) == 2

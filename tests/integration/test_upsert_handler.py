"""The upsert handler in-process: SQS-shaped batches from moto's FIFO queue, Constant Contact = the sandbox."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from functions.receive import app as receive_app
from functions.upsert import app as upsert_app
from local.aws_resources import LocalResources, reset_relay_caches
from local.cc_sandbox import Sandbox
from local.functions import sqs_event
from tests.conftest import load_event
from tests.integration.relay_fixtures import dlq_records
from tests.oauth_secret import seed_oauth_secret
from tests.sandbox_fixtures import point_engine_at


@pytest.fixture
def relay(
    relay_aws: LocalResources, cc_sandbox_unthrottled: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[LocalResources, Sandbox]]:
    """moto queues + secrets, and the sandbox as the Constant Contact account (the routes' lists exist)."""
    sandbox = cc_sandbox_unthrottled
    seed_oauth_secret(sandbox, relay_aws.cc_secret_id)
    point_engine_at(sandbox, monkeypatch, relay_aws.cc_secret_id, rate_limit_per_second=0)
    sandbox.seed_list("Newsletter")
    yield relay_aws, sandbox


def queue_signups(names: list[str], lambda_context: Any) -> None:
    for name in names:
        response = receive_app.lambda_handler(load_event(name), lambda_context)
        assert response["statusCode"] == 200, response


def receive_batch(resources: LocalResources) -> dict[str, Any]:
    """The next batch from the FIFO queue, as Lambda's event source mapping would deliver it."""
    sqs = boto3.client("sqs")
    messages = sqs.receive_message(
        QueueUrl=resources.queue_url, MaxNumberOfMessages=10, MessageSystemAttributeNames=["All"]
    ).get("Messages", [])
    arn = sqs.get_queue_attributes(QueueUrl=resources.queue_url, AttributeNames=["QueueArn"])["Attributes"]
    return sqs_event(messages, arn["QueueArn"])


def in_flight(resources: LocalResources) -> int:
    attributes = boto3.client("sqs").get_queue_attributes(
        QueueUrl=resources.queue_url, AttributeNames=["ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessagesNotVisible"])


def test_queued_signup_becomes_a_contact_and_the_item_succeeds(relay, lambda_context):
    # Given a sign-up accepted by receive
    resources, sandbox = relay
    queue_signups(["generic_signup.json"], lambda_context)

    # When the upsert handler gets the batch
    response = upsert_app.lambda_handler(receive_batch(resources), lambda_context)

    # Then no item failed and the sandbox holds the contact, explicit, on the route's list, with the form's fields
    assert response == {"batchItemFailures": []}
    contact = sandbox.contact_by_email("ada.lovelace@example.com")
    assert contact is not None
    assert (contact["first_name"], contact["last_name"]) == ("Ada", "Lovelace")
    assert contact["email_address"]["permission_to_send"] == "explicit"
    assert sandbox.list_id("Newsletter") in contact["list_memberships"]
    assert dlq_records(resources.dlq_url) == []


STRICT_ROUTES = """
version: 1
routes:
  generic:
    source: generic
    consent: implicit
    list_field: {field: lists, choices: {events: Events}}
    create_missing_lists: false
"""


def test_missing_list_is_rejected_into_the_dlq_and_the_item_succeeds(
    relay, lambda_context, tmp_path, monkeypatch: pytest.MonkeyPatch
):
    # Given a route that may not create lists, and a sign-up that chose "events", a list the account lacks
    resources, sandbox = relay
    routes_file = tmp_path / "routes.yaml"
    routes_file.write_text(STRICT_ROUTES)
    monkeypatch.setenv("ROUTES_FILE", str(routes_file))
    reset_relay_caches()
    queue_signups(["generic_update_form.json"], lambda_context)

    # When the upsert handler gets it
    response = upsert_app.lambda_handler(receive_batch(resources), lambda_context)

    # Then the item succeeds (no retry can help), the DLQ has the reason and the sign-up, and no contact exists
    assert response == {"batchItemFailures": []}
    [record] = dlq_records(resources.dlq_url)
    assert (record["stage"], record["route"], record["error_class"], record["attempts"]) == (
        "upsert",
        "generic",
        "rejected",
        1,
    )
    assert "Events" in record["message"]
    assert record["signup"]["email"] == "ada.lovelace@example.com"
    assert sandbox.contact_by_email("ada.lovelace@example.com") is None


def test_transient_failure_fails_the_item_and_holds_back_the_rest_of_its_group(relay, lambda_context):
    # Given two sign-ups of the same person and one of someone else, and Constant Contact answering 503
    resources, sandbox = relay
    sandbox.seed_list("Events")
    queue_signups(["generic_signup.json", "generic_update_form.json", "generic_multipart.json"], lambda_context)
    batch = receive_batch(resources)
    ada = [r["messageId"] for r in batch["Records"] if json.loads(r["body"])["signup"]["email"].startswith("ada")]
    assert len(ada) == 2 and len(batch["Records"]) == 3
    sandbox.inject_faults(status=503, count=1000)

    # When the upsert handler gets the batch
    response = upsert_app.lambda_handler(batch, lambda_context)

    # Then every item is reported failed (Ada's second sign-up without being tried), nothing is dead-lettered,
    # and the two that were tried are held back for their backoff (the fixture's queue visibility is 0)
    failed = {item["itemIdentifier"] for item in response["batchItemFailures"]}
    assert set(ada) <= failed
    assert len(failed) == 3
    assert dlq_records(resources.dlq_url) == []
    assert in_flight(resources) == 2
    assert sandbox.contact_by_email("ada.lovelace@example.com") is None


def test_transient_failure_on_the_last_attempt_is_dead_lettered_with_its_reason(relay, lambda_context):
    # Given a sign-up on its last allowed delivery, and Constant Contact answering 503
    resources, sandbox = relay
    queue_signups(["generic_signup.json"], lambda_context)
    batch = receive_batch(resources)
    batch["Records"][0]["attributes"]["ApproximateReceiveCount"] = str(resources.max_receive_count)
    sandbox.inject_faults(status=503, count=1000)

    # When the upsert handler gets it
    response = upsert_app.lambda_handler(batch, lambda_context)

    # Then the item succeeds and the DLQ keeps it with the transient error class and the attempt count
    assert response == {"batchItemFailures": []}
    [record] = dlq_records(resources.dlq_url)
    assert (record["error_class"], record["attempts"]) == ("server", resources.max_receive_count)
    assert record["queued_id"] == "generic:zap-run-6f1d2c0a-0001"
    assert "Constant Contact answered 503" in record["message"]
    assert record["signup"]["email"] == "ada.lovelace@example.com"


def test_second_signup_of_a_person_updates_the_same_contact(relay, lambda_context):
    # Given Ada signed up, then sent the update form (phone, job title, the events list)
    resources, sandbox = relay
    sandbox.seed_list("Events")
    queue_signups(["generic_signup.json", "generic_update_form.json"], lambda_context)

    # When the upsert handler gets the batch
    response = upsert_app.lambda_handler(receive_batch(resources), lambda_context)

    # Then one contact holds both: the first form's names and company and the second form's job title and lists
    assert response == {"batchItemFailures": []}
    contact = sandbox.contact_by_email("ada.lovelace@example.com")
    assert contact is not None
    assert (contact["first_name"], contact.get("company_name"), contact.get("job_title")) == (
        "Ada",
        "Analytical Engines Ltd",
        "Mathematician",
    )
    assert {sandbox.list_id("Newsletter"), sandbox.list_id("Events")} <= set(contact["list_memberships"])

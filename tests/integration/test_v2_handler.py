"""V2 failures through the upsert handler: moto's FIFO queue and DLQ, the sandbox's V2 API over real HTTP.

A refused token is dead-lettered at once with the fix (no retry storm); V2's 403 rate limits are handled as V3's
429s are (`over.qps` resent, then retried in 2 s; `over.ratelimit` trips that V2 key's quota breaker until the
reset); 5xx answers are resent, then deferred (docs/architecture.md §4, §7, §10, §12).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from functions.upsert import app as upsert_app
from local.aws_resources import LocalResources, create_event_source_mappings, reset_relay_caches
from local.cc_sandbox import Sandbox
from local.functions import sqs_event
from signup_relay.aws import quota_breaker
from signup_relay.aws.queue import SignupQueue
from signup_relay.constant_contact.v2_client import quota_key_of
from signup_relay.models import QueuedSignup, Signup, to_json
from signup_relay.routes import Consent, UpsertOptions
from tests.integration.relay_fixtures import dlq_records
from tests.v2_account import seed_v2_secret

EMAIL = "legacy@example.com"


@pytest.fixture
def relay(
    relay_aws: LocalResources, cc_sandbox_unthrottled: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[LocalResources, Sandbox, list[int]]]:
    """moto queues; CC_SECRET_ID a V2 account (its secret chooses V2); the sandbox; the retry delays asked for."""
    sandbox = cc_sandbox_unthrottled
    seed_v2_secret(sandbox, relay_aws.cc_secret_id, cc_secret_id=relay_aws.cc_secret_id)
    monkeypatch.setenv("CC_API_BASE_URL", sandbox.base_url)
    monkeypatch.setenv("CC_V2_API_BASE_URL", sandbox.v2_base_url)
    monkeypatch.setenv("CC_RATE_LIMIT_PER_SECOND", "0")
    reset_relay_caches()
    sandbox.seed_list("News")
    delays: list[int] = []
    real_delay_retry = SignupQueue.delay_retry

    def recording_delay_retry(self: SignupQueue, receipt_handle: str, seconds: int) -> None:
        delays.append(seconds)
        real_delay_retry(self, receipt_handle, seconds)

    monkeypatch.setattr(SignupQueue, "delay_retry", recording_delay_retry)
    yield relay_aws, sandbox, delays


def queue_and_process(resources: LocalResources, lambda_context: Any) -> dict[str, Any]:
    """Queue one sign-up as receive does, then hand the batch to the upsert handler."""
    signup = Signup(
        email=EMAIL,
        lists=("News",),
        consent=Consent.EXPLICIT,
        route="legacy",
        options=UpsertOptions(api="v2"),
        submitted_at=datetime.now(UTC),
    )
    queued = QueuedSignup(id="legacy:1", received_at=datetime.now(UTC), signup=signup)
    sqs = boto3.client("sqs")
    sqs.send_message(
        QueueUrl=resources.queue_url,
        MessageBody=to_json(queued),
        MessageGroupId="group-1",
        MessageDeduplicationId="legacy-1",
    )
    messages = sqs.receive_message(
        QueueUrl=resources.queue_url, MaxNumberOfMessages=10, MessageSystemAttributeNames=["All"]
    )["Messages"]
    arn = sqs.get_queue_attributes(QueueUrl=resources.queue_url, AttributeNames=["QueueArn"])["Attributes"]
    return upsert_app.lambda_handler(sqs_event(messages, arn["QueueArn"]), lambda_context)


def v2_answers(sandbox: Sandbox) -> list[int]:
    return [int(r["status"]) for r in sandbox.request_log if str(r["path"]).startswith("/v2/")]


def test_a_revoked_token_is_dead_lettered_at_once_with_the_fix(relay: Any, lambda_context: Any) -> None:
    # Given the V2 account's token was revoked
    resources, sandbox, delays = relay
    sandbox.revoke_v2_token()
    # When a queued sign-up is processed
    response = queue_and_process(resources, lambda_context)
    # Then the item succeeds (no redelivery), the DLQ says what to run, and V2 got one call: no retry storm
    assert response == {"batchItemFailures": []}
    [record] = dlq_records(resources.dlq_url)
    assert record["error_class"] == "reauthorization_required"
    assert f"make connect ARGS='--api v2 --secret-id {resources.cc_secret_id}'" in record["message"]
    assert record["signup"]["email"] == EMAIL
    assert v2_answers(sandbox) == [401]
    assert delays == []
    assert sandbox.contact_by_email(EMAIL) is None


def test_a_refused_api_key_is_dead_lettered_at_once(relay: Any, lambda_context: Any) -> None:
    resources, sandbox, _ = relay
    secret_id = resources.cc_secret_id
    secrets = boto3.client("secretsmanager")
    secret = json.loads(secrets.get_secret_value(SecretId=secret_id)["SecretString"])
    secrets.put_secret_value(SecretId=secret_id, SecretString=json.dumps({**secret, "api_key": "not-a-key"}))
    reset_relay_caches()
    queue_and_process(resources, lambda_context)
    [record] = dlq_records(resources.dlq_url)
    assert record["error_class"] == "reauthorization_required"
    assert "mashery.not.authorized.inactive" in record["message"] and "not-a-key" not in record["message"]
    assert v2_answers(sandbox) == [403]


def test_over_qps_is_resent_after_a_second_inside_the_attempt(relay: Any, lambda_context: Any) -> None:
    # Given V2's per-second limit at one call per second
    resources, sandbox, delays = relay
    sandbox.v2_rate_limit_per_second = 0.01
    # When a sign-up is processed (lists, lookup, POST back to back)
    response = queue_and_process(resources, lambda_context)
    # Then each 403 over.qps was resent a second later, as V3's 429 throttled, and the sign-up went through in this
    # attempt: no retry, no DLQ record (a lasting over.qps: the item is retried in 2 s, tests/unit/test_v2_client.py)
    assert response == {"batchItemFailures": []}
    assert v2_answers(sandbox) == [200, 403, 200, 403, 201]
    assert delays == []
    contact = sandbox.contact_by_email(EMAIL)
    assert contact is not None and contact["list_memberships"] == [sandbox.list_id("News")]
    assert dlq_records(resources.dlq_url) == []


def test_over_ratelimit_trips_the_quota_breaker_of_that_v2_key_only(relay: Any, lambda_context: Any) -> None:
    # Given the V2 key's daily quota spent after one call, and the upsert consumer's event source mapping
    resources, sandbox, delays = relay
    uuids = create_event_source_mappings(resources)
    sandbox.v2_daily_quota = 1
    # When a sign-up is processed
    response = queue_and_process(resources, lambda_context)
    # Then it is not resent: the breaker of docs/architecture.md §12 opens for that V2 key until the reset
    # (00:00 UTC + 1 min), not for the V3 app key, and the consumer stays on; the sign-up stays queued, untried,
    # and nothing is dead-lettered
    now = datetime.now(UTC)
    assert len(response["batchItemFailures"]) == 1
    assert v2_answers(sandbox) == [200, 403]
    upsert_breaker = quota_breaker.get_quota_breaker(fed_by_switch=True)  # the one functions/upsert/app.py asks
    assert upsert_breaker.is_open(now, quota_key_of(sandbox.v2_api_key))
    assert not upsert_breaker.is_open(now)
    assert quota_breaker.quota_resets_at(now) <= now + timedelta(days=1, minutes=1)
    mapping = boto3.client("lambda").get_event_source_mapping(UUID=uuids["UpsertEventSourceMapping"])
    assert mapping["State"] == "Enabled"
    assert delays == []
    assert dlq_records(resources.dlq_url) == []


def test_a_5xx_is_resent_inside_the_attempt(relay: Any, lambda_context: Any) -> None:
    # Given the V2 contacts endpoint fails once
    resources, sandbox, delays = relay
    sandbox.inject_faults(503, count=1, path_prefix="/v2/contacts")
    # When a sign-up is processed / Then the call was resent and the contact created, no retry needed
    assert queue_and_process(resources, lambda_context) == {"batchItemFailures": []}
    contact = sandbox.contact_by_email(EMAIL)
    assert contact is not None and contact["list_memberships"] == [sandbox.list_id("News")]
    assert 503 in v2_answers(sandbox)
    assert delays == []


def test_a_lasting_5xx_is_deferred_with_backoff(relay: Any, lambda_context: Any) -> None:
    resources, sandbox, delays = relay
    sandbox.inject_faults(503, count=10, path_prefix="/v2/contacts")
    response = queue_and_process(resources, lambda_context)
    assert len(response["batchItemFailures"]) == 1
    assert delays == [10]
    assert dlq_records(resources.dlq_url) == []
    assert sandbox.contact_by_email(EMAIL) is None

"""The burst drain with moto SQS FIFO (queues from template.yaml), the real quota breaker on the template's event
source mappings in moto, and the sandbox over HTTP.

Each test asserts what the queues hold afterwards, what the sandbox stored and, after a quota error, the breaker's
state (the consumer switched off in moto, the metric).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest

from local.aws_resources import LocalResources, create_event_source_mappings, mapping_state, reset_relay_caches
from local.cc_sandbox import Sandbox
from signup_relay.aws.dead_letters import get_dead_letter_queue
from signup_relay.aws.queue import get_signup_queue
from signup_relay.aws.quota_breaker import TRIPPED_METRIC, V2_TRIPPED_METRIC, get_quota_breaker
from signup_relay.bulk.drain import DrainReport, drain_backlog
from signup_relay.constant_contact.v2_client import quota_key_of
from signup_relay.emails import contact_key
from signup_relay.errors import QuotaExceededError
from signup_relay.models import QueuedSignup, Signup, decode, to_json
from signup_relay.observability import metrics
from signup_relay.routes import Consent, UpsertOptions
from signup_relay.upsert.wiring import get_upserter
from tests.integration.relay_fixtures import dlq_records
from tests.oauth_secret import seed_oauth_secret
from tests.sandbox_fixtures import point_engine_at
from tests.v2_account import seed_v2_secret

SECRET_ID = "signup-relay/constant-contact"


@pytest.fixture
def account(relay_aws: LocalResources, monkeypatch: pytest.MonkeyPatch) -> Iterator[Sandbox]:
    with Sandbox(rate_limit_per_second=0) as sandbox:
        sandbox.seed_list("News")
        seed_oauth_secret(sandbox, SECRET_ID)
        point_engine_at(sandbox, monkeypatch, SECRET_ID, rate_limit_per_second=0)
        yield sandbox


def queue(email: str, consent: Consent = Consent.IMPLICIT, **fields: Any) -> str:
    signup = Signup(email=email, lists=("News",), consent=consent, route="launch", options=UpsertOptions(), **fields)
    message = QueuedSignup(id=f"launch:{email}:{time.monotonic_ns()}", received_at=datetime.now(UTC), signup=signup)
    return get_signup_queue().send(to_json(message), group_id=contact_key(email), dedupe_id=message.id)


@pytest.fixture
def consumer(relay_aws: LocalResources) -> Iterator[str]:
    """The sign-up queue's event source mapping (UpsertFunction's) in moto, the switch a trip turns off: its UUID.
    The breaker's metrics start empty."""
    uuid = create_event_source_mappings(relay_aws)["UpsertEventSourceMapping"]
    metrics.clear_metrics()
    yield uuid
    metrics.clear_metrics()


def drain(**overrides: Any) -> DrainReport:
    """A drain run as BulkDrainFunction's: this container's quota breaker, on the sign-up queue's mapping."""
    arguments: dict[str, Any] = {
        "queue": get_signup_queue(),
        "dlq": get_dead_letter_queue(),
        "upserter_for": get_upserter,
        "breaker": get_quota_breaker(),
        "threshold": 3,
        "max_signups": 100,
        "max_attempts": 5,
        "hold_seconds": 300,
        "clock": lambda: datetime.now(UTC),
        "sleep": lambda seconds: None,
    }
    return drain_backlog(**{**arguments, **overrides})


def visible(resources: LocalResources) -> list[dict[str, Any]]:
    """Every message visible now, with its receive count (received and released again at once)."""
    sqs = boto3.client("sqs")
    found: list[dict[str, Any]] = []
    while batch := sqs.receive_message(
        QueueUrl=resources.queue_url,
        MaxNumberOfMessages=10,
        VisibilityTimeout=30,
        MessageSystemAttributeNames=["ApproximateReceiveCount"],
    ).get("Messages", []):
        found += batch
    for message in found:
        sqs.change_message_visibility(
            QueueUrl=resources.queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
        )
    return [{"signup": decode(m["Body"], QueuedSignup).signup, **m["Attributes"]} for m in found]


def held(resources: LocalResources) -> int:
    attributes = boto3.client("sqs").get_queue_attributes(
        QueueUrl=resources.queue_url, AttributeNames=["ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessagesNotVisible"])


def test_below_the_threshold_the_drain_leaves_the_queue_alone(account: Sandbox, relay_aws: LocalResources) -> None:
    queue("a@example.com")
    queue("b@example.com")
    report = drain()
    assert report.skipped == "backlog 2 below the threshold 3" and report.received == 0
    assert [m["ApproximateReceiveCount"] for m in visible(relay_aws)] == ["1", "1"]


def test_imported_messages_are_deleted_and_explicit_ones_handed_back(
    account: Sandbox, relay_aws: LocalResources
) -> None:
    # Given a backlog of implicit and explicit sign-ups
    for n in range(6):
        queue(f"imp{n}@example.com", first_name=f"I{n}")
    queue("exp@example.com", Consent.EXPLICIT)
    # When the drain runs
    report = drain()
    # Then the implicit ones are stored and gone from the queue; the explicit one is back, untouched by the import
    assert (report.received, report.imported, report.released) == (7, 6, 1)
    assert all(account.contact_by_email(f"imp{n}@example.com") for n in range(6))
    assert account.contact_by_email("exp@example.com") is None
    left = visible(relay_aws)
    assert [m["signup"].email for m in left] == ["exp@example.com"] and held(relay_aws) == 0
    assert dlq_records(relay_aws.dlq_url) == []


def test_a_message_delivered_before_is_applied_here_not_handed_back(
    account: Sandbox, relay_aws: LocalResources
) -> None:
    # Given a backlog where one explicit sign-up was already delivered once (a retry)
    queue("seen@example.com", Consent.EXPLICIT, first_name="Seen")
    assert len(visible(relay_aws)) == 1  # its first delivery
    for n in range(3):
        queue(f"imp{n}@example.com")
    # When the drain runs
    report = drain()
    # Then it got the per-contact attempt in the drain: stored explicit, deleted from the queue (none held)
    assert report.applied_per_contact == 1 and report.released == 0
    stored = account.contact_by_email("seen@example.com")
    assert stored is not None and stored["email_address"]["permission_to_send"] == "explicit"
    assert visible(relay_aws) == [] and held(relay_aws) == 0


def test_after_quota_exceeded_the_breaker_trips_and_nothing_is_deleted(
    account: Sandbox, relay_aws: LocalResources, consumer: str
) -> None:
    # Given a backlog and a daily quota that runs out during the run
    for n in range(5):
        queue(f"q{n}@example.com")
    account.daily_quota = account.quota_used() + 3
    # When the drain runs
    report = drain()
    # Then the breaker tripped: the sign-up queue's consumer is switched off and the trip is counted once
    assert mapping_state(consumer) == "Disabled"
    assert metrics.metric_set[TRIPPED_METRIC]["Value"] == [1.0]
    assert metrics.metric_set[QuotaExceededError.error_class]["Value"] == [1.0]
    # And nothing was deleted or dead-lettered: every message waits for the reset
    assert report.left_for_quota == 5 and report.imported == 0
    assert held(relay_aws) == 5
    assert dlq_records(relay_aws.dlq_url) == []
    # And while the breaker is open the drain receives nothing, in this container or a new one (from the switch)
    again = drain()
    reset_relay_caches()
    elsewhere = drain()
    for run in (again, elsewhere):
        assert (run.skipped, run.received) == ("the quota breaker is open: no call until the reset", 0)


def test_a_message_on_its_last_delivery_is_sent_again_not_lost_to_the_quota(
    account: Sandbox, relay_aws: LocalResources
) -> None:
    # Given a backlog whose messages are on their last allowed delivery, and a spent quota
    for n in range(3):
        queue(f"last{n}@example.com")
    account.daily_quota = account.quota_used()
    # When the drain runs with MaxReceiveCount 1
    report = drain(max_attempts=1)
    # Then each is queued again as a new message (a redrive would have dead-lettered it), none in the DLQ
    assert report.left_for_quota == 3
    assert sorted(m["signup"].email for m in visible(relay_aws)) == [f"last{n}@example.com" for n in range(3)]
    assert dlq_records(relay_aws.dlq_url) == []


def test_a_v2_keys_spent_quota_holds_only_its_signups_in_the_per_contact_pass(
    account: Sandbox, relay_aws: LocalResources, consumer: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a V2 account whose key's daily quota is spent, and a backlog where its sign-up and two V3 ones were
    # delivered before (so the drain applies them per contact, the V2 one first)
    v2_account = "signup-relay/constant-contact/legacy-v2"
    seed_v2_secret(account, v2_account, cc_secret_id=SECRET_ID)
    point_engine_at(account, monkeypatch, SECRET_ID, v2=True, rate_limit_per_second=0)
    account.v2_daily_quota = 0
    queue("legacy@example.com", account=v2_account)
    queue("seen0@example.com", first_name="Seen")
    queue("seen1@example.com", first_name="Seen")
    assert len(visible(relay_aws)) == 3  # their first delivery
    # When the drain runs
    report = drain()
    # Then only the V2 key's breaker tripped: the consumer stays on, only the V2 trip is counted
    now = datetime.now(UTC)
    breaker = get_quota_breaker()
    assert breaker.open_keys(now) == [quota_key_of(account.v2_api_key)] and not breaker.is_open(now)
    assert mapping_state(consumer) == "Enabled"
    assert metrics.metric_set[V2_TRIPPED_METRIC]["Value"] == [1.0] and TRIPPED_METRIC not in metrics.metric_set
    # And the V3 sign-ups behind it were applied, the V2 one is held untried
    assert report.applied_per_contact == 3 and report.left_for_quota == 0
    assert all(account.contact_by_email(f"seen{n}@example.com") for n in range(2))
    assert account.contact_by_email("legacy@example.com") is None
    assert visible(relay_aws) == [] and held(relay_aws) == 1
    assert dlq_records(relay_aws.dlq_url) == []


def test_a_persons_later_signup_follows_an_earlier_one_sent_again_for_the_quota(
    account: Sandbox, relay_aws: LocalResources
) -> None:
    # Given one person's older sign-up on its last allowed delivery and a newer one behind it, and a spent quota
    queue("pat@example.com", first_name="Older")
    assert len(visible(relay_aws)) == 1  # the older one's first delivery
    queue("pat@example.com", first_name="Newer")
    account.daily_quota = account.quota_used()
    # When the drain runs with MaxReceiveCount 2 (the older one meets the quota on its last delivery)
    report = drain(threshold=2, max_attempts=2)
    # Then both wait for the reset as new messages of the group, the older one still first: none held, none lost
    assert report.applied_per_contact == 1 and report.left_for_quota == 1
    assert [m["signup"].first_name for m in visible(relay_aws)] == ["Older", "Newer"]
    assert held(relay_aws) == 0 and account.contact_by_email("pat@example.com") is None
    assert dlq_records(relay_aws.dlq_url) == []


def test_a_message_on_its_last_delivery_handed_back_at_the_deadline_is_sent_again_not_redriven(
    account: Sandbox, relay_aws: LocalResources
) -> None:
    # Given a sign-up received as often as the queue's redrive allows but once (the drain's receive is its last)
    queue("late@example.com", first_name="Late")
    for _ in range(relay_aws.max_receive_count - 1):
        assert len(visible(relay_aws)) == 1
    # When the drain runs past its deadline, so it hands the sign-up back untried
    past = datetime.now(UTC).replace(year=2000)
    report = drain(threshold=1, max_attempts=relay_aws.max_receive_count, deadline=past)
    # Then it waits as a new message (its first delivery next), not redriven to the DLQ untried
    assert report.released == 1 and report.applied_per_contact == 0
    waiting = visible(relay_aws)
    assert [(m["signup"].first_name, m["ApproximateReceiveCount"]) for m in waiting] == [("Late", "1")]
    assert held(relay_aws) == 0 and dlq_records(relay_aws.dlq_url) == []

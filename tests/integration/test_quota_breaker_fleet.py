"""The quota breaker with moto and the sandbox: the upsert handler in-process, fed the way Lambda's event source
mapping feeds it (only while the mapping is enabled), the mapping and the queue's redrive policy in moto."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from functions.upsert import app as upsert_app
from local.aws_resources import LocalResources, create_event_source_mappings, run_mapping_schedule
from local.cc_sandbox import Sandbox
from local.functions import sqs_event
from local.template import mapping_schedules
from signup_relay.aws.queue import SignupQueue
from signup_relay.aws.quota_breaker import get_quota_breaker
from signup_relay.emails import contact_key
from signup_relay.models import Consent, QueuedSignup, Signup, to_json
from signup_relay.routes import UpsertOptions
from tests.integration.relay_fixtures import dlq_records
from tests.oauth_secret import seed_oauth_secret
from tests.sandbox_fixtures import point_engine_at, v2_session
from tests.v2_account import seed_v2_secret

V2_ACCOUNT = "signup-relay/constant-contact/legacy"


@pytest.fixture
def fleet(
    relay_aws: LocalResources, cc_sandbox_unthrottled: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[LocalResources, Sandbox, dict[str, str]]]:
    """moto queues (visibility 0: a handed-back message is visible again at once), the upsert mapping, and the
    sandbox as the account, with the Newsletter list."""
    sandbox = cc_sandbox_unthrottled
    seed_oauth_secret(sandbox, relay_aws.cc_secret_id)
    point_engine_at(sandbox, monkeypatch, relay_aws.cc_secret_id, rate_limit_per_second=0)
    sandbox.seed_list("Newsletter")
    yield relay_aws, sandbox, create_event_source_mappings(relay_aws)


def queue_signups(resources: LocalResources, emails: list[str], *, account: str | None = None) -> None:
    """Queue sign-ups as receive does; with `account`, for that V2 account (a route with `api: v2`)."""
    queue = SignupQueue(url=resources.queue_url, client=boto3.client("sqs"))
    now = datetime.now(UTC)
    options = UpsertOptions(api="v2") if account else UpsertOptions()
    for email in emails:
        signup = Signup(
            email=email,
            first_name="Reader",
            lists=("Newsletter",),
            consent=Consent.IMPLICIT,
            route="generic",
            account=account,
            options=options,
        )
        body = to_json(QueuedSignup(id=f"generic:{email}", received_at=now, signup=signup))
        queue.send(body, group_id=contact_key(email), dedupe_id=f"generic:{email}")


def run_event_source_mapping(
    resources: LocalResources, uuid: str, lambda_context: Any, *, max_invocations: int | None = None
) -> int:
    """What Lambda does for the mapping until it is disabled or the queue is empty (or after `max_invocations`):
    receive a batch, invoke, delete the items that did not fail. Returns the number of invocations."""
    sqs, lambdas = boto3.client("sqs"), boto3.client("lambda")
    arn = sqs.get_queue_attributes(QueueUrl=resources.queue_url, AttributeNames=["QueueArn"])["Attributes"]
    invocations = 0
    while lambdas.get_event_source_mapping(UUID=uuid)["State"] == "Enabled" and invocations != max_invocations:
        messages = sqs.receive_message(
            QueueUrl=resources.queue_url, MaxNumberOfMessages=10, MessageSystemAttributeNames=["All"]
        ).get("Messages", [])
        if not messages:
            break
        invocations += 1
        response = upsert_app.lambda_handler(sqs_event(messages, arn["QueueArn"]), lambda_context)
        failed = {item["itemIdentifier"] for item in response["batchItemFailures"]}
        for message in messages:
            if message["MessageId"] not in failed:
                sqs.delete_message(QueueUrl=resources.queue_url, ReceiptHandle=message["ReceiptHandle"])
    return invocations


def queued(resources: LocalResources) -> dict[str, int]:
    """Every message on the sign-up queue: its id -> how often it was received, read from moto's model (receiving
    to look would count as a receive too)."""
    from local.aws_resources import _moto_queue

    queue = _moto_queue(resources.queue_url, "us-east-1")
    return {message.id: message.approximate_receive_count for message in queue._messages}


def api_calls(sandbox: Sandbox, api: str = "v3") -> list[int]:
    """The status of every Constant Contact API request so far (V3's, or V2's with `api="v2"`)."""
    return [int(r["status"]) for r in sandbox.request_log if str(r["path"]).startswith(f"/{api}/")]


def next_day(sandbox: Sandbox, uuids: dict[str, str]) -> None:
    """Constant Contact's clock passes the reset, and the stack's schedule runs (as EventBridge Scheduler would).

    The relay's containers run on the wall clock, which does not jump: a new container stands for one whose
    breaker closed at the reset by its own clock.
    """
    [schedule] = mapping_schedules()
    now = sandbox.clock.now()
    sandbox.clock.advance((schedule.next_run(now) - now + timedelta(seconds=1)).total_seconds())
    run_mapping_schedule(schedule, uuids)
    get_quota_breaker.cache_clear()  # type: ignore[attr-defined]


def test_a_spent_quota_costs_one_call_and_no_message_until_the_reset(fleet, lambda_context):
    # Given 25 sign-ups queued and a quota that is already spent
    resources, sandbox, uuids = fleet
    emails = [f"reader{n}@example.com" for n in range(25)]
    queue_signups(resources, emails)
    sandbox.daily_quota = 0

    # When Lambda's event source mapping runs
    invocations = run_event_source_mapping(resources, uuids["UpsertEventSourceMapping"], lambda_context)

    # Then one call met the quota, the mapping is disabled after one invocation, and every sign-up is still queued,
    # none dead-lettered
    assert api_calls(sandbox) == [429]
    assert invocations == 1
    assert boto3.client("lambda").get_event_source_mapping(UUID=uuids["UpsertEventSourceMapping"])["State"] == (
        "Disabled"
    )
    assert len(queued(resources)) == 25
    assert dlq_records(resources.dlq_url) == []

    # When the day turns (with a fresh quota) and the schedule runs
    sandbox.daily_quota = 10_000
    next_day(sandbox, uuids)
    run_event_source_mapping(resources, uuids["UpsertEventSourceMapping"], lambda_context)

    # Then every sign-up is a contact, the queue is empty and the DLQ too
    assert all(sandbox.contact_by_email(email) is not None for email in emails)
    assert queued(resources) == {}
    assert dlq_records(resources.dlq_url) == []


def test_quota_days_in_a_row_never_push_a_signup_to_the_dlq(fleet, lambda_context):
    # Given three sign-ups and a quota of one call a day: every day the first lookup passes and the write meets
    # the quota, so each sign-up is delivered once a day without being applied
    resources, sandbox, uuids = fleet
    emails = ["ada@example.com", "bob@example.com", "cy@example.com"]
    queue_signups(resources, emails)
    first_ids = set(queued(resources))
    sandbox.daily_quota = 1
    days = 2 * resources.max_receive_count + 1  # past the redrive's maxReceiveCount twice over

    # When that goes on day after day
    for day in range(days):
        if day:
            next_day(sandbox, uuids)
        before = len(api_calls(sandbox))
        run_event_source_mapping(resources, uuids["UpsertEventSourceMapping"], lambda_context)
        # Then each day costs at most one call past the quota
        assert api_calls(sandbox)[before:].count(429) == 1
        # And nothing is ever dead-lettered (nor redriven by the queue), and nothing is lost
        assert dlq_records(resources.dlq_url) == []
        receive_counts = queued(resources)
        assert len(receive_counts) == 3
        assert max(receive_counts.values()) <= resources.max_receive_count

    # And the sign-ups reached their last delivery and were sent again as new messages instead
    assert set(queued(resources)).isdisjoint(first_ids)

    # When a day with the quota back comes
    sandbox.daily_quota = 10_000
    next_day(sandbox, uuids)
    run_event_source_mapping(resources, uuids["UpsertEventSourceMapping"], lambda_context)

    # Then every sign-up is applied exactly once, and nothing is left or dead-lettered
    assert [sandbox.contact_by_email(email) is not None for email in emails] == [True, True, True]
    assert len(sandbox.all_contacts()) == 3
    assert queued(resources) == {}
    assert dlq_records(resources.dlq_url) == []


def spend_v2_quota(sandbox: Sandbox, calls: int) -> None:
    """Another user of the same V2 key spends today's quota of `calls`."""
    sandbox.v2_daily_quota = calls
    session = v2_session(sandbox)
    for _ in range(calls):
        session.get(f"{sandbox.v2_base_url}/lists", timeout=5).raise_for_status()
    assert session.get(f"{sandbox.v2_base_url}/lists", timeout=5).status_code == 403  # over.ratelimit


def test_a_v2_keys_quota_day_holds_only_its_signups_while_v3_flows(fleet, lambda_context, monkeypatch):
    # Given a V2 account beside the V3 app, its key's quota for today already spent, and three sign-ups for each
    # queued (the V2 ones first)
    resources, sandbox, uuids = fleet
    seed_v2_secret(sandbox, V2_ACCOUNT, cc_secret_id=resources.cc_secret_id)
    point_engine_at(sandbox, monkeypatch, resources.cc_secret_id, v2=True, rate_limit_per_second=0)
    spend_v2_quota(sandbox, 20)
    v2_before = len(api_calls(sandbox, "v2"))
    v2_emails = [f"legacy{n}@example.com" for n in range(3)]
    v3_emails = [f"reader{n}@example.com" for n in range(3)]
    queue_signups(resources, v2_emails, account=V2_ACCOUNT)
    first_v2_ids = set(queued(resources))
    queue_signups(resources, v3_emails)
    mapping = uuids["UpsertEventSourceMapping"]

    # When Lambda's event source mapping runs past the redrive's maxReceiveCount twice over (visibility 0: a
    # handed-back sign-up is received again at once)
    rounds = 2 * resources.max_receive_count + 1
    invocations = run_event_source_mapping(resources, mapping, lambda_context, max_invocations=rounds)

    # Then the V3 sign-ups are applied and the mapping stays on
    assert invocations == rounds
    assert all(sandbox.contact_by_email(email) is not None for email in v3_emails)
    assert boto3.client("lambda").get_event_source_mapping(UUID=mapping)["State"] == "Enabled"
    # And the V2 key met its quota once: every later V2 sign-up was handed back without a call
    assert api_calls(sandbox, "v2")[v2_before:] == [403]
    assert all(sandbox.contact_by_email(email) is None for email in v2_emails)
    # And none is dead-lettered or redriven: on their last delivery they were queued again as new messages
    assert dlq_records(resources.dlq_url) == []
    receive_counts = queued(resources)
    assert len(receive_counts) == 3 and max(receive_counts.values()) <= resources.max_receive_count
    assert set(receive_counts).isdisjoint(first_v2_ids)

    # When another container (a breaker of its own) takes sign-ups the same day
    get_quota_breaker.cache_clear()  # type: ignore[attr-defined]
    run_event_source_mapping(resources, mapping, lambda_context, max_invocations=rounds)

    # Then it spends one 403 on that key, no more, and still holds the V2 sign-ups
    assert api_calls(sandbox, "v2")[v2_before:] == [403, 403]
    assert len(queued(resources)) == 3 and dlq_records(resources.dlq_url) == []

    # When Constant Contact's day turns (the key's quota is back) and a container past the reset runs
    next_day(sandbox, uuids)
    run_event_source_mapping(resources, mapping, lambda_context)

    # Then every V2 sign-up is applied, as the sandbox stores it, and nothing is left or dead-lettered
    newsletter = sandbox.seed_list("Newsletter")
    for email in v2_emails:
        contact = sandbox.contact_by_email(email)
        assert contact is not None and contact["first_name"] == "Reader"
        assert contact["list_memberships"] == [newsletter]
    assert 403 not in api_calls(sandbox, "v2")[v2_before + 2 :]
    assert queued(resources) == {}
    assert dlq_records(resources.dlq_url) == []

"""The local stack honours the quota breaker: a spent quota pauses its consumer, the reset's schedule resumes it."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta

import pytest
import requests

from local.aws_resources import demo_webhook_secrets
from local.stack import LocalStack
from tests.local.stack_support import wait_until_drained

SIGNUPS = 15  # more than one batch of the mapping (BatchSize 10)


def send_signups(stack: LocalStack, count: int, prefix: str) -> list[str]:
    """POST `count` generic sign-ups; the ids receive answered."""
    token = demo_webhook_secrets()["generic"]
    ids = []
    for n in range(count):
        answer = requests.post(
            f"{stack.url}/hooks/generic",
            json={"email": f"{prefix}{n}@example.com", "first_name": f"Reader{n}"},
            headers={"X-Signup-Relay-Token": token, "Idempotency-Key": f"{prefix}-{n}"},
            timeout=10,
        )
        assert answer.status_code == 200, answer.text
        ids.append(answer.json()["id"])
    return ids


def wait_for(check: Callable[[], bool], limit_seconds: float = 30) -> None:
    deadline = time.monotonic() + limit_seconds
    while not check():
        if time.monotonic() > deadline:
            pytest.fail("the condition did not hold in time")
        time.sleep(0.1)


def api_calls(stack: LocalStack) -> list[dict[str, object]]:
    return [r for r in stack.sandbox.request_log if str(r["path"]).startswith("/v3/")]


def test_quota_days_pause_the_consumer_until_each_reset_and_every_signup_is_applied(stack: LocalStack):
    # Given Constant Contact's quota for today is spent
    sandbox = stack.sandbox
    sandbox.daily_quota = 0

    # When sign-ups arrive
    ids = send_signups(stack, SIGNUPS, "quota")

    # Then one call met the quota, the consumer is switched off with every sign-up still queued, and nothing is
    # dead-lettered; the queue is not drained while it waits
    wait_for(lambda: stack.status()["quota_breaker"]["open"] and stack.queue_depth()["visible"] == SIGNUPS)
    time.sleep(1)  # several poll intervals: a paused consumer must not poll
    assert [(r["status"]) for r in api_calls(stack)] == [429]
    status = stack.status()
    assert status["quota_breaker"]["consumers"] == {"UpsertEventSourceMapping": "Disabled"}
    assert status["drained"] is False
    assert status["dlq"]["records"] == []
    assert status["queue"]["visible"] == SIGNUPS

    # When Constant Contact's clock passes the reset (a new day with its full quota) and the schedule runs
    sandbox.daily_quota = 10_000
    now = stack.constant_contact_now()
    sandbox.clock.advance((stack.schedules[0].next_run(now) - now + timedelta(seconds=1)).total_seconds())

    # Then the consumer resumes and every sign-up becomes a contact; nothing went to the DLQ
    wait_until_drained(stack)
    status = stack.status()
    assert status["quota_breaker"]["open"] is False
    assert status["dlq"]["records"] == []
    assert {status["results"][i]["outcome"] for i in ids} == {"created"}
    for n in range(SIGNUPS):
        contact = sandbox.contact_by_email(f"quota{n}@example.com")
        assert contact is not None and contact["first_name"] == f"Reader{n}"

    # When, the next day, the quota runs out again halfway through a second wave of sign-ups
    sandbox.daily_quota = sandbox.quota_used() + 5
    second = send_signups(stack, SIGNUPS, "again")
    wait_for(lambda: stack.status()["quota_breaker"]["open"])
    calls_at_trip = len(api_calls(stack))
    time.sleep(1)
    assert len(api_calls(stack)) == calls_at_trip  # paused: no call after the 429
    assert stack.status()["dlq"]["records"] == []

    # Then after the following reset that wave is applied too, and nothing was lost or dead-lettered
    sandbox.daily_quota = 10_000
    now = stack.constant_contact_now()
    sandbox.clock.advance((stack.schedules[0].next_run(now) - now + timedelta(seconds=1)).total_seconds())
    wait_until_drained(stack)
    status = stack.status()
    assert status["dlq"]["records"] == []
    assert {status["results"][i]["outcome"] for i in second} == {"created"}
    assert len(sandbox.all_contacts()) == 2 * SIGNUPS


def test_a_v2_keys_quota_holds_only_its_signups_while_v3_ones_are_applied(stack: LocalStack):
    # Given the V2 key's quota for today is spent, the V3 app's is not
    sandbox = stack.sandbox
    sandbox.v2_daily_quota = 0

    # When a sign-up for the V2 route and V3 sign-ups arrive
    answer = requests.post(
        f"{stack.url}/hooks/generic-legacy-v2",
        json={"email": "legacy@example.com", "first_name": "Legacy"},
        headers={"X-Signup-Relay-Token": demo_webhook_secrets()["generic-legacy-v2"]},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    v2_id = answer.json()["id"]
    v3_ids = send_signups(stack, 3, "flowing")

    # Then the V3 sign-ups are applied with the consumer on, and the V2 key is held after its one 403: the V2
    # sign-up comes back (every 2 s locally) and is handed back without a call, never dead-lettered
    wait_for(lambda: {stack.status()["results"].get(i, {}).get("outcome") for i in v3_ids} == {"created"})
    wait_for(lambda: bool(stack.status()["quota_breaker"]["v2_keys_open"]))
    wait_for(lambda: (stack.status()["results"][v2_id].get("attempts") or 0) >= 3)  # two redeliveries held
    v2_calls = [r["status"] for r in sandbox.request_log if str(r["path"]).startswith("/v2/")]
    assert v2_calls == [403]
    status = stack.status()
    assert status["quota_breaker"]["consumers"] == {"UpsertEventSourceMapping": "Enabled"}
    assert status["quota_breaker"]["open"] is False
    assert status["results"][v2_id]["outcome"] == "deferred"
    assert status["drained"] is False
    assert status["dlq"]["records"] == []
    assert sandbox.contact_by_email("legacy@example.com") is None

    # When Constant Contact's clock passes the reset (the key's quota is back) and the schedule runs
    sandbox.v2_daily_quota = 10_000
    now = stack.constant_contact_now()
    sandbox.clock.advance((stack.schedules[0].next_run(now) - now + timedelta(seconds=1)).total_seconds())

    # Then the V2 sign-up is applied, nothing is held, and nothing went to the DLQ
    wait_until_drained(stack)
    status = stack.status()
    assert status["results"][v2_id]["outcome"] == "created"
    assert status["quota_breaker"]["v2_keys_open"] == []
    assert status["dlq"]["records"] == []
    contact = sandbox.contact_by_email("legacy@example.com")
    assert contact is not None and contact["first_name"] == "Legacy"

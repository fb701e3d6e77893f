"""processing: the one place that decides success, retry with backoff, or DLQ for a queued sign-up."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

import pytest

from signup_relay.errors import ConflictError, ServerError, ThrottledError, ValidationError
from signup_relay.models import FailureRecord, Outcome, QueuedSignup, Signup, UpsertResult, to_json
from signup_relay.observability import metrics
from signup_relay.upsert.attempt import QueuedMessage, RetryLater, process_message, retry_delay
from tests.unit.fake_queues import FakeQueue

NOW = datetime(2026, 3, 1, 22, 0, tzinfo=UTC)
SIGNUP = Signup(email="ada@example.com", route="generic", source="generic", submitted_at=NOW)
BODY = to_json(QueuedSignup(id="generic:d-1", received_at=NOW, signup=SIGNUP))


class FakeUpserter:
    quota_key: str | None = None  # the V3 app key

    def __init__(self, result: UpsertResult | Exception) -> None:
        self.result = result
        self.seen: list[Signup] = []

    def upsert(self, signup: Signup) -> UpsertResult:
        self.seen.append(signup)
        if isinstance(self.result, Exception):
            raise self.result
        return self.result


class ClosedBreaker:
    """A quota breaker that never opens (the quota breaker's own tests are in test_quota_breaker.py)."""

    def is_open(self, now: datetime) -> bool:
        return False

    def trip(self, now: datetime) -> None:
        raise AssertionError("only a quota_exceeded trips the breaker")


class FakeDlq:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def send(self, record: FailureRecord, *, dedupe_id: str) -> str:
        self.sent.append({"record": record, "dedupe_id": dedupe_id})
        return "d-1"


def run(result: UpsertResult | Exception, *, attempts: int = 1, body: str = BODY, max_attempts: int = 5):
    queue, dlq = FakeQueue(), FakeDlq()
    message = QueuedMessage(message_id="m-1", receipt_handle="rh-1", body=body, group_id="g-1", attempts=attempts)
    outcome: Any
    try:
        outcome = process_message(
            message,
            upserter_for=lambda account, api: FakeUpserter(result),
            queue=queue,
            dlq=dlq,
            max_attempts=max_attempts,
            breaker=ClosedBreaker(),
            clock=lambda: NOW,
        )
    except RetryLater as retry:
        outcome = retry
    return outcome, queue, dlq


@pytest.mark.parametrize("outcome", [Outcome.CREATED, Outcome.UPDATED, Outcome.REVIVED, Outcome.KEPT_UNSUBSCRIBED])
def test_successful_outcomes_succeed_the_item(outcome):
    processed, queue, dlq = run(UpsertResult(outcome=outcome, contact_id="c-1"))
    assert (processed.outcome, processed.contact_id, processed.dead_lettered) == (outcome, "c-1", False)
    assert dlq.sent == [] and queue.delays == []


def test_rejected_outcome_goes_to_the_dlq_with_its_reason_and_succeeds():
    # Given the policy rejects the sign-up (e.g. a list that does not exist)
    processed, queue, dlq = run(UpsertResult(outcome=Outcome.REJECTED, reason="list 'VIP' does not exist"))
    # Then a FailureRecord with the reason and the queued sign-up is kept, deduplicated by the SQS message id
    assert processed.dead_lettered is True
    [sent] = dlq.sent
    record = sent["record"]
    assert (record.stage, record.error_class, record.message) == ("upsert", "rejected", "list 'VIP' does not exist")
    assert (record.signup, record.queued_id, record.route, record.attempts) == (SIGNUP, "generic:d-1", "generic", 1)
    assert sent["dedupe_id"] == "upsert-m-1"


def test_the_failure_record_keeps_when_the_signup_was_received():
    # Given a sign-up received an hour before it fails
    received_at = datetime(2026, 3, 1, 21, 0, tzinfo=UTC)
    body = to_json(QueuedSignup(id="generic:d-1", received_at=received_at, signup=SIGNUP))
    # When the upsert rejects it
    _, _, dlq = run(UpsertResult(outcome=Outcome.REJECTED, reason="list 'VIP' does not exist"), body=body)
    # Then the record carries the receipt time next to the failure time
    record = dlq.sent[0]["record"]
    assert (record.received_at, record.failed_at) == (received_at, NOW)


def test_permanent_error_goes_to_the_dlq_on_the_first_attempt():
    processed, queue, dlq = run(ValidationError("email_address too long"))
    assert processed.outcome is Outcome.REJECTED
    assert dlq.sent[0]["record"].error_class == "validation"
    assert queue.delays == []


@pytest.mark.parametrize("error", [ServerError("503"), ConflictError("409"), KeyError("bug")])
def test_transient_or_unexpected_errors_fail_the_item_with_a_backoff(error):
    # Given a failure that may pass (an outage, a concurrent write, even a bug) on attempt 2 of 5
    retry, queue, dlq = run(error, attempts=2)
    # Then the item fails, the message is hidden for the backoff, and nothing is dead-lettered yet
    assert isinstance(retry, RetryLater)
    assert queue.delays == [("rh-1", 20)]
    assert dlq.sent == []


def test_transient_error_on_the_last_attempt_goes_to_the_dlq_with_its_class():
    # Given a transient failure on the last attempt SQS allows
    processed, queue, dlq = run(ServerError("503 from Constant Contact"), attempts=5, max_attempts=5)
    # Then the item succeeds into the DLQ with the error, its reason and the sign-up; no retry is scheduled
    assert processed.dead_lettered is True
    assert processed.outcome is Outcome.FAILED  # transient: not `rejected`, which means refused for good
    record = dlq.sent[0]["record"]
    assert (record.error_class, record.attempts) == ("server", 5)
    assert (record.message, record.signup) == ("503 from Constant Contact", SIGNUP)
    assert queue.delays == []


def test_a_message_that_is_not_a_queued_signup_is_kept_raw():
    # Given a queue message that receive did not write
    processed, _, dlq = run(UpsertResult(outcome=Outcome.CREATED), body='{"not": "a signup"}')
    # Then it is dead-lettered with its exact bytes, for a human to read
    record = dlq.sent[0]["record"]
    assert (processed.outcome, record.error_class, record.signup) == (Outcome.REJECTED, "invalid_message", None)
    assert base64.b64decode(record.body_base64 or "") == b'{"not": "a signup"}'


def test_retry_delays_follow_the_kind_of_failure():
    # throttled: about a second; others: exponential, capped (the daily quota is the quota breaker's)
    assert retry_delay(ThrottledError("429"), 1) == 2
    assert [retry_delay(ServerError("5xx"), n) for n in (1, 2, 3)] == [10, 20, 40]
    assert retry_delay(ServerError("5xx"), 30) == 900


def test_a_message_queued_before_submitted_at_existed_is_upserted_as_submitted_when_received():
    # Given a queued body written before Signup carried submitted_at
    old_body = '{"version": 1, "id": "generic:d-1", "received_at": "2026-03-01T22:00:00Z", "signup": ' + (
        '{"email": "ada@example.com", "route": "generic", "source": "generic"}}'
    )
    upserter = FakeUpserter(UpsertResult(outcome=Outcome.UPDATED))
    message = QueuedMessage(message_id="m-1", receipt_handle="rh-1", body=old_body, group_id="g-1", attempts=1)
    # When it is processed
    process_message(
        message,
        upserter_for=lambda account, api: upserter,
        queue=FakeQueue(),
        dlq=FakeDlq(),
        max_attempts=5,
        breaker=ClosedBreaker(),
    )
    # Then the policy sees the receipt time as the submission time (the opt-out check still has a time)
    [seen] = upserter.seen
    assert seen.submitted_at == NOW


def test_constant_contacts_per_second_limit_is_counted_for_the_dashboard():
    # Given a sign-up deferred by Constant Contact's per-second limit
    metrics.clear_metrics()
    error = ThrottledError("429 throttled")
    run(error, attempts=1)
    # Then the deferral is counted under the limit's own name too
    assert metrics.metric_set[error.error_class]["Value"] == [1.0]
    assert metrics.metric_set["deferred"]["Value"] == [1.0]
    metrics.clear_metrics()

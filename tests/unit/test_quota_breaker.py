"""The quota breaker: one trip stops the container and switches the fleet off until the reset; nothing is lost."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from signup_relay.aws.quota_breaker import TRIPPED_METRIC, V2_TRIPPED_METRIC, QuotaBreaker, quota_resets_at
from signup_relay.errors import QuotaExceededError
from signup_relay.models import Outcome, QueuedSignup, Signup, UpsertResult, to_json
from signup_relay.observability import metrics
from signup_relay.upsert.attempt import QueuedMessage, RetryLater, process_message
from tests.unit.fake_queues import FakeDlq, FakeQueue

NOW = datetime(2026, 3, 1, 15, 30, tzinfo=UTC)
RESET = datetime(2026, 3, 2, 0, 1, tzinfo=UTC)
V2_KEY = "v2-0123456789ab"


class FakeSwitch:
    """The sign-up queue's event source mapping, as the breaker sees it."""

    def __init__(self, *, off: bool = False, broken: bool = False, refuses_off: bool = False) -> None:
        self.off = off
        self.broken = broken
        self.refuses_off = refuses_off  # readable, but switching it off is refused
        self.reads = 0
        self.turned_off = 0

    def _check(self) -> None:
        if self.broken:
            raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "ListEventSourceMappings")

    def is_off(self) -> bool:
        self.reads += 1
        self._check()
        return self.off

    def turn_off(self) -> None:
        self._check()
        if self.refuses_off:
            raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "UpdateEventSourceMapping")
        self.turned_off += 1
        self.off = True


def test_the_breaker_resets_one_minute_after_midnight_utc():
    assert quota_resets_at(NOW) == RESET
    assert quota_resets_at(datetime(2026, 3, 1, 23, 59, 59, tzinfo=UTC)) == RESET
    # between midnight and the schedule's run, the reset is that same run
    assert quota_resets_at(datetime(2026, 3, 2, 0, 0, 30, tzinfo=UTC)) == RESET
    assert quota_resets_at(RESET) == RESET + timedelta(days=1)


def test_a_trip_opens_the_breaker_until_the_reset_and_switches_the_consumer_off():
    # Given a closed breaker
    metrics.clear_metrics()
    switch = FakeSwitch()
    breaker = QuotaBreaker(switch)
    assert breaker.is_open(NOW) is False

    # When a quota_exceeded trips it twice the same day
    breaker.trip(NOW)
    breaker.trip(NOW + timedelta(seconds=5))

    # Then it is open at once, the consumer is off, and the trip is counted once
    assert breaker.is_open(NOW + timedelta(seconds=1)) is True
    assert switch.off is True
    assert metrics.metric_set[TRIPPED_METRIC]["Value"] == [1.0]
    metrics.clear_metrics()
    # And it stays open until the reset, then closes when the schedule has switched the consumer on again
    assert breaker.is_open(RESET - timedelta(seconds=1)) is True
    switch.off = False
    assert breaker.is_open(RESET + timedelta(seconds=1)) is False


def test_a_trip_elsewhere_is_seen_through_the_switch_within_the_recheck_interval():
    # Given this container read the switch on (closed), then another container tripped and switched it off
    switch = FakeSwitch()
    breaker = QuotaBreaker(switch, recheck_seconds=60)
    assert breaker.is_open(NOW) is False
    switch.off = True

    # Then the switch is not read again before a minute has passed, and is then read as open
    assert breaker.is_open(NOW + timedelta(seconds=30)) is False
    assert switch.reads == 1
    assert breaker.is_open(NOW + timedelta(seconds=61)) is True
    # And the consumer coming back on (the reset's schedule) closes it on the next read
    switch.off = False
    assert breaker.is_open(NOW + timedelta(seconds=122)) is False


def test_a_consumer_the_switch_feeds_never_reads_it_and_closes_at_the_reset():
    # Given the breaker of the consumer the switch feeds (invoked only while the switch is on)
    switch = FakeSwitch()
    breaker = QuotaBreaker(switch, reads_switch=False)
    # Then using it costs no read of the switch, until and after its own trip
    assert breaker.is_open(NOW) is False
    assert breaker.is_open(NOW + timedelta(minutes=5)) is False
    breaker.trip(NOW + timedelta(minutes=6))
    assert switch.off is True and switch.turned_off == 1
    assert breaker.is_open(NOW + timedelta(hours=1)) is True
    assert breaker.is_open(RESET) is False
    assert switch.reads == 0


def test_an_unreachable_switch_never_fails_a_trip_and_keeps_what_the_container_knows():
    # Given a switch AWS refuses (no permission)
    breaker = QuotaBreaker(FakeSwitch(broken=True))
    # Then an unknown state reads closed, a trip still opens this container until the reset
    assert breaker.is_open(NOW) is False
    breaker.trip(NOW)
    assert breaker.is_open(NOW + timedelta(hours=1)) is True
    assert breaker.is_open(RESET) is False


def test_a_trip_whose_switch_off_failed_holds_until_the_reset_though_the_switch_reads_on():
    # Given a switch this container can read but not turn off
    switch = FakeSwitch(refuses_off=True)
    breaker = QuotaBreaker(switch, recheck_seconds=60)
    # When it trips, and the switch is read again later (still on)
    breaker.trip(NOW)
    assert breaker.is_open(NOW + timedelta(minutes=5)) is True
    # Then it stayed open by its own clock, having read the switch, and closes at the reset
    assert switch.reads >= 1 and switch.off is False
    assert breaker.is_open(RESET) is False


# --- the upsert attempt with the breaker --------------------------------------------------------------------

SIGNUP = Signup(email="ada@example.com", route="generic", source="generic", submitted_at=NOW)
BODY = to_json(QueuedSignup(id="generic:d-1", received_at=NOW, signup=SIGNUP))


class CountingUpserter:
    def __init__(self, result: UpsertResult | Exception, quota_key: str | None = None) -> None:
        self.result = result
        self.quota_key = quota_key  # None: the V3 app key
        self.calls = 0

    def upsert(self, signup: Signup) -> UpsertResult:
        self.calls += 1
        if isinstance(self.result, Exception):
            raise self.result
        return self.result


def attempt(
    upserter: CountingUpserter,
    breaker: QuotaBreaker,
    *,
    attempts: int = 1,
    message_id: str = "m-1",
    group: str = "g-ada",
    requeued_groups: set[str] | None = None,
) -> tuple[Any, FakeQueue, FakeDlq]:
    queue, dlq = FakeQueue(), FakeDlq()
    message = QueuedMessage(
        message_id=message_id, receipt_handle=f"rh-{message_id}", body=BODY, group_id=group, attempts=attempts
    )
    try:
        outcome: Any = process_message(
            message,
            upserter_for=lambda account, api: upserter,
            queue=queue,  # type: ignore[arg-type]
            dlq=dlq,  # type: ignore[arg-type]
            max_attempts=5,
            breaker=breaker,
            requeued_groups=requeued_groups,
            clock=lambda: NOW,
        )
    except RetryLater as retry:
        outcome = retry
    return outcome, queue, dlq


def test_quota_exceeded_trips_the_breaker_and_hands_the_signup_back_untouched():
    # Given Constant Contact answers quota_exceeded
    switch = FakeSwitch()
    breaker = QuotaBreaker(switch)
    upserter = CountingUpserter(QuotaExceededError("429 quota_exceeded"))

    # When a sign-up is attempted
    outcome, queue, dlq = attempt(upserter, breaker)

    # Then the breaker is open, the consumer off, and the item fails with its visibility left as the queue set it
    assert isinstance(outcome, RetryLater) and outcome.delay_seconds is None
    assert breaker.is_open(NOW) and switch.off
    assert (queue.delays, queue.sent, dlq.records) == ([], [], [])


def test_while_open_no_signup_calls_constant_contact():
    # Given an open breaker
    breaker = QuotaBreaker(FakeSwitch())
    breaker.trip(NOW)
    upserter = CountingUpserter(UpsertResult(outcome=Outcome.CREATED))

    # When three sign-ups are attempted
    outcomes = [attempt(upserter, breaker, message_id=f"m-{n}", group=f"g-{n}")[0] for n in range(3)]

    # Then none called Constant Contact and each was handed back
    assert upserter.calls == 0
    assert all(isinstance(outcome, RetryLater) for outcome in outcomes)


@pytest.mark.parametrize("tripped_by_this_signup", [True, False])
def test_on_its_last_delivery_a_signup_is_sent_again_instead_of_dead_lettered(tripped_by_this_signup):
    # Given a sign-up on the last delivery the queue allows, meeting the quota (or an open breaker)
    breaker = QuotaBreaker(FakeSwitch())
    if not tripped_by_this_signup:
        breaker.trip(NOW)
    upserter = CountingUpserter(QuotaExceededError("429 quota_exceeded"))
    requeued: set[str] = set()

    # When it is attempted
    processed, queue, dlq = attempt(upserter, breaker, attempts=5, requeued_groups=requeued)

    # Then nothing is dead-lettered: the same body is queued again in the person's group, and the item succeeds
    assert dlq.records == []
    assert processed.outcome is Outcome.DEFERRED and processed.dead_lettered is False
    assert queue.sent == [{"body": BODY, "group_id": "g-ada", "dedupe_id": "requeue-m-1"}]
    assert requeued == {"g-ada"}


def test_later_signups_of_a_group_sent_again_follow_it_to_keep_the_persons_order():
    # Given the first of Ada's sign-ups in a batch was sent again on its last delivery
    breaker = QuotaBreaker(FakeSwitch())
    breaker.trip(NOW)
    upserter = CountingUpserter(UpsertResult(outcome=Outcome.CREATED))
    requeued = {"g-ada"}

    # When her next sign-up of the batch (an earlier delivery count) and someone else's are handed back
    ada, ada_queue, _ = attempt(upserter, breaker, attempts=2, message_id="m-2", requeued_groups=requeued)
    bob, bob_queue, _ = attempt(
        upserter, breaker, attempts=2, message_id="m-3", group="g-bob", requeued_groups=requeued
    )

    # Then Ada's is sent again behind the first; Bob's stays where it is
    assert [m["dedupe_id"] for m in ada_queue.sent] == ["requeue-m-2"] and ada.outcome is Outcome.DEFERRED
    assert bob_queue.sent == [] and isinstance(bob, RetryLater)


# --- a V2 key's quota --------------------------------------------------------------------------------------------


def v2_quota_error() -> QuotaExceededError:
    error = QuotaExceededError("403 over.ratelimit")
    error.quota_key = V2_KEY
    return error


def test_a_v2_keys_trip_stops_only_that_key_in_this_container_until_the_reset():
    # Given a closed breaker
    metrics.clear_metrics()
    switch = FakeSwitch()
    breaker = QuotaBreaker(switch)

    # When a V2 key's quota is met twice the same day
    breaker.trip(NOW, V2_KEY)
    breaker.trip(NOW + timedelta(seconds=5), V2_KEY)

    # Then that key is stopped, the app key and other V2 keys are not, and the consumer stays on
    assert breaker.is_open(NOW + timedelta(seconds=1), V2_KEY) is True
    assert breaker.is_open(NOW + timedelta(seconds=1)) is False
    assert breaker.is_open(NOW + timedelta(seconds=1), "v2-ffffffffffff") is False
    assert (switch.off, switch.turned_off) == (False, 0)
    assert breaker.open_keys(NOW) == [V2_KEY]
    # And the trip is counted once, as the V2 sibling of the fleet's metric (which the fleet's alarm does not see)
    assert metrics.metric_set[V2_TRIPPED_METRIC]["Value"] == [1.0]
    assert TRIPPED_METRIC not in metrics.metric_set
    metrics.clear_metrics()
    # And it holds until the reset by this container's clock, then the key is called again
    assert breaker.is_open(RESET - timedelta(seconds=1), V2_KEY) is True
    assert breaker.is_open(RESET, V2_KEY) is False
    assert breaker.open_keys(RESET) == []


def test_the_app_keys_trip_stops_v2_keys_too():
    # A V2 sign-up may fall back to the V3 app (`v3_account`), and the consumer is off anyway
    breaker = QuotaBreaker(FakeSwitch())
    breaker.trip(NOW)
    assert breaker.is_open(NOW, V2_KEY) is True


def test_a_v2_quota_hands_back_that_keys_signups_while_the_app_keys_flow():
    # Given a V2 account meets its key's daily quota
    switch = FakeSwitch()
    breaker = QuotaBreaker(switch)
    v2 = CountingUpserter(v2_quota_error(), quota_key=V2_KEY)
    first, queue, dlq = attempt(v2, breaker)

    # Then that sign-up is handed back untouched, the consumer stays on
    assert isinstance(first, RetryLater) and first.delay_seconds is None
    assert (queue.delays, queue.sent, dlq.records, switch.off) == ([], [], [], False)

    # When more sign-ups come: on the same V2 key, and on the V3 app
    v2_later = CountingUpserter(UpsertResult(outcome=Outcome.CREATED), quota_key=V2_KEY)
    v3 = CountingUpserter(UpsertResult(outcome=Outcome.CREATED))
    held, _, _ = attempt(v2_later, breaker, message_id="m-2", group="g-2")
    applied, _, _ = attempt(v3, breaker, message_id="m-3", group="g-3")

    # Then the V2 one is handed back without a call and the V3 one is applied
    assert isinstance(held, RetryLater) and v2_later.calls == 0
    assert applied.outcome is Outcome.CREATED and v3.calls == 1


def test_a_v2_signup_held_on_its_last_delivery_is_sent_again_not_dead_lettered():
    breaker = QuotaBreaker(FakeSwitch())
    breaker.trip(NOW, V2_KEY)
    v2 = CountingUpserter(UpsertResult(outcome=Outcome.CREATED), quota_key=V2_KEY)

    processed, queue, dlq = attempt(v2, breaker, attempts=5)

    assert v2.calls == 0 and dlq.records == []
    assert processed.outcome is Outcome.DEFERRED
    assert queue.sent == [{"body": BODY, "group_id": "g-ada", "dedupe_id": "requeue-m-1"}]


def test_the_error_not_the_account_says_whose_quota_is_spent():
    # Given a V2 account whose sign-up falls back to the V3 app (`v3_account`), and the app key's quota is spent
    switch = FakeSwitch()
    breaker = QuotaBreaker(switch)
    v2 = CountingUpserter(QuotaExceededError("429 quota_exceeded"), quota_key=V2_KEY)

    # When it is attempted
    outcome, _, dlq = attempt(v2, breaker)

    # Then the fleet's breaker trips (the app key's quota), not the V2 key's alone
    assert isinstance(outcome, RetryLater) and dlq.records == []
    assert switch.off and breaker.is_open(NOW)
    assert breaker.open_keys(NOW) == []

"""One attempt at a queued sign-up: upsert it, then succeed, retry later or dead-letter (docs/architecture.md §4).

The one place that decides retry or DLQ:

- success, or an outcome other than REJECTED: the item succeeds.
- REJECTED or a PermanentError: a FailureRecord goes to the DLQ and the item succeeds (retrying cannot help).
- TransientError (or anything unexpected): the message is kept invisible for a backoff and the item fails, so
  SQS redelivers it; on the last allowed attempt it goes to the DLQ with its reason (outcome FAILED, not
  REJECTED) instead of being redriven bare.
- the daily quota (docs/architecture.md §12): a `quota_exceeded` trips the quota breaker of the API key that met
  it; while the breaker of the key a sign-up would use is open, the sign-up is handed back untried and never
  dead-lettered.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from signup_relay.aws.dead_letters import INVALID_MESSAGE_CLASS, REJECTED_CLASS, dead_letter, error_class_of
from signup_relay.clock import utc_now
from signup_relay.errors import PermanentError, QuotaExceededError, RelayError, ThrottledError
from signup_relay.models import FailureRecord, InvalidModel, Outcome, QueuedSignup, Signup, UpsertResult, decode
from signup_relay.observability import logger, mask_email, metrics

if TYPE_CHECKING:
    from signup_relay.aws.dead_letters import DeadLetterQueue
    from signup_relay.aws.queue import SignupQueue

THROTTLED_DELAY_SECONDS = 2
BASE_DELAY_SECONDS = 10
MAX_BACKOFF_SECONDS = 900


class Upserter(Protocol):
    @property
    def quota_key(self) -> str | None:
        """Whose daily quota the upsert spends: None for the V3 app key, else the V2 API key's id."""
        ...

    def upsert(self, signup: Signup) -> UpsertResult: ...


class Breaker(Protocol):
    """The quota breaker (aws/quota_breaker.py): key None is the V3 app key, else a V2 API key's id."""

    def is_open(self, now: datetime, key: str | None = None) -> bool: ...

    def trip(self, now: datetime, key: str | None = None) -> None: ...


@dataclass(frozen=True)
class QueuedMessage:
    """The parts of an SQS record that processing needs."""

    message_id: str
    receipt_handle: str
    body: str
    group_id: str
    attempts: int  # ApproximateReceiveCount: 1 on the first delivery


@dataclass(frozen=True)
class Processed:
    queued_id: str | None
    outcome: Outcome
    contact_id: str | None = None
    dead_lettered: bool = False


class RetryLater(Exception):
    """The item must fail so SQS redelivers it after `delay_seconds` (None: the queue's visibility timeout)."""

    def __init__(self, cause: BaseException, delay_seconds: int | None) -> None:
        after = "the visibility timeout" if delay_seconds is None else f"{delay_seconds}s"
        super().__init__(f"retry after {after}: {type(cause).__name__}: {cause}")
        self.cause = cause
        self.delay_seconds = delay_seconds


def retry_delay(error: BaseException, attempts: int) -> int:
    """Seconds to keep a failed message invisible: ~1 s after a throttle, else exponential from 10 s (capped at
    15 min). The daily quota is the quota breaker's (`process_message`)."""
    if isinstance(error, ThrottledError):
        return THROTTLED_DELAY_SECONDS
    return min(MAX_BACKOFF_SECONDS, BASE_DELAY_SECONDS * 2 ** max(0, attempts - 1))


def process_message(
    message: QueuedMessage,
    *,
    upserter_for: Callable[[str | None, str | None], Upserter],
    queue: SignupQueue,
    dlq: DeadLetterQueue,
    max_attempts: int,
    breaker: Breaker,
    requeued_groups: set[str] | None = None,
    clock: Callable[[], datetime] = utc_now,
) -> Processed:
    """Upsert one queued sign-up; raise RetryLater to fail the item, return normally to succeed it.

    `requeued_groups` is shared by the records of one batch: the message groups handed back by sending them again
    (`_hand_back`), whose later records must follow the same way to keep the person's order.
    """
    requeued_groups = set() if requeued_groups is None else requeued_groups
    try:
        queued = decode(message.body, QueuedSignup)
    except InvalidModel as error:
        # Not something receive wrote: keep the bytes for a human, never retry.
        record = dead_letter(
            "upsert",
            error_class=INVALID_MESSAGE_CLASS,
            reason=str(error),
            failed_at=clock(),
            attempts=message.attempts,
            body=message.body.encode("utf-8"),
        )
        return _dead_letter(message, None, record, dlq)

    signup = queued.signup
    context = {
        "queued_id": queued.id,
        "route": signup.route,
        "source": signup.source,
        "email": mask_email(signup.email),
        "attempts": message.attempts,
    }
    if breaker.is_open(clock()):  # the app key's: checked before the account's secret is read
        return _hand_back(message, queued, queue, max_attempts, requeued_groups, context)
    try:
        upserter = upserter_for(signup.account, signup.options.api)
        quota_key = upserter.quota_key
        result = None if quota_key is not None and breaker.is_open(clock(), quota_key) else upserter.upsert(signup)
    except QuotaExceededError as error:
        breaker.trip(clock(), error.quota_key)
        metrics.add_metric(name=QuotaExceededError.error_class, unit="Count", value=1)
        return _hand_back(message, queued, queue, max_attempts, requeued_groups, context, error.quota_key)
    except PermanentError as error:
        record = _failure(message, queued, error_class_of(error), error.message, clock())
        return _dead_letter(message, queued, record, dlq)
    except Exception as error:  # transient by default: a bug or an outage must not lose the sign-up
        error_class = error_class_of(error)
        if message.attempts >= max_attempts:
            record = _failure(message, queued, error_class, str(error), clock())
            return _dead_letter(message, queued, record, dlq, outcome=Outcome.FAILED)
        delay = retry_delay(error, message.attempts)
        queue.delay_retry(message.receipt_handle, delay)
        log = logger.warning if isinstance(error, RelayError) else logger.exception
        log(
            "sign-up deferred",
            extra={**context, "outcome": Outcome.DEFERRED.value, "error_class": error_class, "retry_in_seconds": delay},
        )
        metrics.add_metric(name=Outcome.DEFERRED.value, unit="Count", value=1)
        if isinstance(error, ThrottledError):  # Constant Contact's per-second limit, on the dashboard
            metrics.add_metric(name=error.error_class, unit="Count", value=1)
        raise RetryLater(error, delay) from error

    if result is None:  # this V2 key's quota is spent: the app key's sign-ups keep flowing
        return _hand_back(message, queued, queue, max_attempts, requeued_groups, context, quota_key)
    if result.outcome is Outcome.REJECTED:
        record = _failure(message, queued, REJECTED_CLASS, result.reason or "rejected by the upsert policy", clock())
        return _dead_letter(message, queued, record, dlq)

    logger.info(
        "sign-up upserted",
        extra={**context, "outcome": result.outcome.value, "contact_id": result.contact_id, "calls": result.calls},
    )
    metrics.add_metric(name=result.outcome.value, unit="Count", value=1)
    return Processed(queued_id=queued.id, outcome=result.outcome, contact_id=result.contact_id)


def _hand_back(
    message: QueuedMessage,
    queued: QueuedSignup,
    queue: SignupQueue,
    max_attempts: int,
    requeued_groups: set[str],
    context: dict[str, object],
    quota_key: str | None = None,
) -> Processed:
    """Leave the sign-up queued, untried, for after the quota reset; never dead-lettered.

    The item fails with its visibility unchanged (on the app key's quota the consumer is switched off until the
    reset; on a V2 key's it comes back after the queue's visibility timeout, to be handed back again). On its last
    allowed delivery, or behind a message of its group sent again in this batch, it is sent again as a new message
    of its group instead (and the item succeeds): quota days never use up its deliveries, so neither this module
    nor the queue's redrive can dead-letter it for the quota.
    """
    requeue = requeue_if_last(message, queue, max_attempts, requeued_groups)
    logger.warning(
        "sign-up deferred",
        extra={
            **context,
            "outcome": Outcome.DEFERRED.value,
            "error_class": QuotaExceededError.error_class,
            "quota_key": quota_key or "v3",
            "requeued": requeue,
        },
    )
    metrics.add_metric(name=Outcome.DEFERRED.value, unit="Count", value=1)
    if requeue:
        return Processed(queued_id=queued.id, outcome=Outcome.DEFERRED)
    held = QuotaExceededError("the daily quota is spent: handed back until the reset")
    held.quota_key = quota_key  # a V2 key's quota leaves the app key's sign-ups flowing
    raise RetryLater(held, None)


def requeue_if_last(message: QueuedMessage, queue: SignupQueue, max_attempts: int, requeued_groups: set[str]) -> bool:
    """Send a held-back message again as a new message of its group when it is on its last allowed delivery or
    behind one of its group sent again (`requeued_groups`, which it joins): the caller then deletes it. True if sent.

    Quota days thus never use up its deliveries, and a person's later sign-ups follow the earlier one to the back
    of the group, in order."""
    if message.attempts < max_attempts and message.group_id not in requeued_groups:
        return False
    queue.send(message.body, group_id=message.group_id, dedupe_id=f"requeue-{message.message_id}")
    requeued_groups.add(message.group_id)
    return True


def _failure(
    message: QueuedMessage, queued: QueuedSignup, error_class: str, reason: str, now: datetime
) -> FailureRecord:
    return dead_letter(
        "upsert", error_class=error_class, reason=reason, failed_at=now, attempts=message.attempts, queued=queued
    )


def _dead_letter(
    message: QueuedMessage,
    queued: QueuedSignup | None,
    record: FailureRecord,
    dlq: DeadLetterQueue,
    *,
    outcome: Outcome = Outcome.REJECTED,
) -> Processed:
    # Deduplicated by the SQS message id: a redelivery after a lost delete does not write a second record.
    dlq.send(record, dedupe_id=f"upsert-{message.message_id}")
    logger.warning(
        "sign-up dead-lettered",
        extra={
            "queued_id": record.queued_id,
            "route": record.route,
            "outcome": outcome.value,
            "error_class": record.error_class,
            "reason": record.message,
            "attempts": record.attempts,
            "email": mask_email(queued.signup.email) if queued else "",
        },
    )
    metrics.add_metric(name=outcome.value, unit="Count", value=1)
    metrics.add_metric(name="dead_lettered", unit="Count", value=1)
    return Processed(queued_id=record.queued_id, outcome=outcome, dead_lettered=True)

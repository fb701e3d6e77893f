"""The burst drain (docs/architecture.md §11): take a queue backlog in one bulk run, delete what was verified.

An SQS event source hands a function at most 10 FIFO messages per invocation, so the drain runs its own receive
loop, holding each message (and so its person's message group) invisible while the import runs. A message
leaves the queue only when its row was read back from Constant Contact as sent. Everything else goes to the
per-contact path: handed back at once (visible again for UpsertFunction) on its first delivery, else given the
per-contact attempt here, so the drain costs a message at most one of its deliveries. The quota breaker
(docs/architecture.md §12) is asked before anything is received and tripped by a `quota_exceeded`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from signup_relay.bulk.apply import BulkLimits, apply_in_bulk
from signup_relay.bulk.results import BulkPath, BulkResult
from signup_relay.emails import normalize_email
from signup_relay.errors import QuotaExceededError
from signup_relay.models import InvalidModel, Outcome, QueuedSignup, Signup, UpsertResult, decode
from signup_relay.observability import logger, mask_email, metrics
from signup_relay.upsert.attempt import Breaker, QueuedMessage, RetryLater, Upserter, process_message, requeue_if_last
from signup_relay.upsert.wiring import AccountUpserter

if TYPE_CHECKING:
    from signup_relay.aws.dead_letters import DeadLetterQueue
    from signup_relay.aws.queue import SignupQueue

RELEASED = "released to the per-contact path"
EMPTY_RECEIVES = 2  # FIFO receives may come back empty while messages remain: one more try before stopping
UpserterFor = Callable[[str | None, str | None], Upserter]  # (account, api) -> upsert.wiring's upserter


@dataclass(frozen=True)
class DrainReport:
    backlog: int
    skipped: str | None = None  # why nothing was received
    received: int = 0
    imported: int = 0  # verified in Constant Contact and deleted from the queue
    released: int = 0  # handed back to UpsertFunction
    applied_per_contact: int = 0  # delivered before: the per-contact attempt ran here
    left_for_quota: int = 0  # left queued after a quota_exceeded, for after the reset
    calls: int = 0  # bulk calls (the per-contact attempts count their own)
    activity_ids: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def drain_backlog(
    *,
    queue: SignupQueue,
    dlq: DeadLetterQueue,
    upserter_for: UpserterFor,
    breaker: Breaker,
    threshold: int,
    max_signups: int,
    max_attempts: int,
    hold_seconds: int,
    clock: Callable[[], datetime],
    sleep: Callable[[float], None],
    limits: BulkLimits = BulkLimits(),  # noqa: B008 - frozen
    deadline: datetime | None = None,
) -> DrainReport:
    """When at least `threshold` messages are visible, receive up to `max_signups` and apply them in bulk.

    People with a message delivered before get the per-contact attempt here, until `deadline`; what is left
    then is handed back.
    """
    if threshold <= 0:
        return DrainReport(backlog=0, skipped="burst mode is off")
    if breaker.is_open(clock()):
        return DrainReport(backlog=0, skipped="the quota breaker is open: no call until the reset")
    backlog = queue.backlog()
    if backlog < threshold:
        return DrainReport(backlog=backlog, skipped=f"backlog {backlog} below the threshold {threshold}")
    held = _receive(queue, max_signups=max_signups, hold_seconds=hold_seconds)
    drain = _Drain(queue, dlq, upserter_for, breaker, max_attempts, clock)
    parsed: list[tuple[QueuedMessage, QueuedSignup | None]] = []
    for message in held:
        try:
            parsed.append((message, decode(message.body, QueuedSignup)))
        except InvalidModel:
            parsed.append((message, None))  # the per-contact attempt keeps it in the DLQ as invalid_message
    # A person any of whose messages was delivered before (a retry, or handed back by an earlier run) is applied
    # here per contact, in order: handing it back again would spend another of its deliveries.
    seen = {_person(q) for m, q in parsed if m.attempts > 1 or q is None}
    here = [m for m, q in parsed if _person(q) in seen]
    by_account: dict[str | None, list[tuple[QueuedMessage, QueuedSignup]]] = {}
    for message, queued in parsed:
        if queued is not None and _person(queued) not in seen:
            by_account.setdefault(queued.signup.account, []).append((message, queued))
    calls, quota = 0, False
    activity_ids: list[str] = []
    notes: list[str] = []
    for account, items in by_account.items():
        if quota:
            drain.leave_for_quota([m for m, _ in items])
            continue
        upserter = upserter_for(account, None)
        if not isinstance(upserter, AccountUpserter):  # a V2 account: the import is V3's, so per contact
            for message, _ in items:
                drain.hand_back(message)
            continue
        drain.expect(items)
        run = apply_in_bulk(
            [q.signup for _, q in items],
            client=upserter.client,
            names=upserter.names,
            per_contact=drain.per_contact,
            clock=clock,
            sleep=sleep,
            limits=limits,
        )
        calls += run.calls
        activity_ids += run.activity_ids
        notes += run.notes
        drain.settle(items, run.results)
        if run.quota_exceeded:
            quota = True
            breaker.trip(clock())
            metrics.add_metric(name=QuotaExceededError.error_class, unit="Count", value=1)
    for index, message in enumerate(here):
        if quota or breaker.is_open(clock()):
            drain.leave_for_quota(here[index:])
            break
        if deadline is not None and clock() >= deadline:
            for rest in here[index:]:
                drain.hand_back(rest)
            break
        quota = drain.run_here(message)
    return DrainReport(
        backlog=backlog,
        received=len(held),
        imported=drain.imported,
        released=drain.released,
        applied_per_contact=drain.applied,
        left_for_quota=drain.left_for_quota_count,
        calls=calls,
        activity_ids=tuple(activity_ids),
        notes=tuple(notes),
    )


def _receive(queue: SignupQueue, *, max_signups: int, hold_seconds: int) -> list[QueuedMessage]:
    held: list[QueuedMessage] = []
    empty = 0
    while len(held) < max_signups and empty < EMPTY_RECEIVES:
        batch = queue.receive(hold_seconds=hold_seconds)
        empty = 0 if batch else empty + 1
        for message in batch:
            attributes = message.get("Attributes", {})
            held.append(
                QueuedMessage(
                    message_id=message["MessageId"],
                    receipt_handle=message["ReceiptHandle"],
                    body=message["Body"],
                    group_id=attributes.get("MessageGroupId", ""),
                    attempts=int(attributes.get("ApproximateReceiveCount", 1)),
                )
            )
    return held


class _Drain:
    """What happens to each held message: deleted, handed back, applied here, or left for the reset."""

    def __init__(
        self,
        queue: SignupQueue,
        dlq: DeadLetterQueue,
        upserter_for: UpserterFor,
        breaker: Breaker,
        max_attempts: int,
        clock: Callable[[], datetime],
    ) -> None:
        self.queue = queue
        self.dlq = dlq
        self.upserter_for = upserter_for
        self.breaker = breaker
        self.max_attempts = max_attempts
        self.clock = clock
        self.by_signup: dict[int, QueuedMessage] = {}
        # The message groups sent again to wait for the reset: their later held messages follow, in order.
        self.requeued_groups: set[str] = set()
        self.imported = self.released = self.applied = self.left_for_quota_count = 0

    def expect(self, items: list[tuple[QueuedMessage, QueuedSignup]]) -> None:
        self.by_signup = {id(queued.signup): message for message, queued in items}

    def per_contact(self, signup: Signup) -> UpsertResult:
        """The bulk run's fallback (first deliveries only): hand the message back to UpsertFunction."""
        message = self.by_signup[id(signup)]
        if message.attempts < self.max_attempts:
            self.hand_back(message)
            return UpsertResult(outcome=Outcome.DEFERRED, reason=RELEASED)
        if self.run_here(message):  # MaxReceiveCount 1: this delivery is its only attempt
            raise QuotaExceededError("quota_exceeded during a per-contact attempt")
        return UpsertResult(outcome=Outcome.DEFERRED, reason="applied per contact by the drain")

    def run_here(self, message: QueuedMessage) -> bool:
        """The per-contact attempt, as UpsertFunction makes it: a succeeded item is deleted (as the event source
        deletes it), a failed one keeps what the attempt set. True when the V3 app key's quota ran out (a V2 key's
        stops only its own sign-ups: docs/architecture.md §12)."""
        self.applied += 1
        try:
            process_message(
                message,
                upserter_for=self.upserter_for,
                queue=self.queue,
                dlq=self.dlq,
                max_attempts=self.max_attempts,
                breaker=self.breaker,
                requeued_groups=self.requeued_groups,
                clock=self.clock,
            )
        except RetryLater as later:
            return isinstance(later.cause, QuotaExceededError) and later.cause.quota_key is None
        self.queue.delete([message.receipt_handle])
        return False

    def hand_back(self, message: QueuedMessage) -> None:
        """Visible again at once for UpsertFunction; one on its last delivery (made visible, the redrive would take
        it to the DLQ untried) or behind one of its group sent again is sent again as a new message instead."""
        if requeue_if_last(message, self.queue, self.max_attempts, self.requeued_groups):
            self.queue.delete([message.receipt_handle])
        else:
            self.queue.delay_retry(message.receipt_handle, 0)
        self.released += 1

    def leave_for_quota(self, messages: list[QueuedMessage]) -> None:
        """Left held (the consumer is switched off until the reset), as the per-contact path leaves a message; one
        on its last delivery, or behind one of its group sent again, is sent again as a new message of its group,
        so the quota never dead-letters it nor reorders the person's sign-ups."""
        for message in messages:
            if requeue_if_last(message, self.queue, self.max_attempts, self.requeued_groups):
                self.queue.delete([message.receipt_handle])
        self.left_for_quota_count += len(messages)
        if messages:
            metrics.add_metric(name=Outcome.DEFERRED.value, unit="Count", value=len(messages))

    def settle(self, items: list[tuple[QueuedMessage, QueuedSignup]], results: tuple[BulkResult, ...]) -> None:
        verified: list[str] = []
        stopped: list[QueuedMessage] = []
        for (message, queued), result in zip(items, results, strict=True):
            if result.path in (BulkPath.IMPORTED, BulkPath.MERGED):
                verified.append(message.receipt_handle)
                _log_imported(message, queued, result)
            elif result.path is BulkPath.STOPPED:
                stopped.append(message)
        self.queue.delete(verified)
        self.imported += len(verified)
        self.leave_for_quota(stopped)


def _person(queued: QueuedSignup | None) -> str:
    return normalize_email(queued.signup.email) if queued is not None else ""


def _log_imported(message: QueuedMessage, queued: QueuedSignup, result: BulkResult) -> None:
    signup = queued.signup
    logger.info(
        "sign-up upserted",
        extra={
            "queued_id": queued.id,
            "route": signup.route,
            "source": signup.source,
            "email": mask_email(signup.email),
            "attempts": message.attempts,
            "outcome": result.outcome.value,
            "contact_id": result.contact_id,
            "path": result.path.value,
            "activity_id": result.activity_id,
        },
    )
    metrics.add_metric(name=result.outcome.value, unit="Count", value=1)
    metrics.add_metric(name="imported_in_bulk", unit="Count", value=1)

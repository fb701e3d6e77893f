"""Quota circuit breaker: after a `quota_exceeded`, no call on that API key until the reset (docs/architecture.md §12).

Public API, for every code path that calls Constant Contact (upsert, the bulk drain): the container's breaker
from `get_quota_breaker()`, handed to the logic as a collaborator (`upsert/attempt.py`'s `Breaker`):

    if breaker.is_open(now, key):  # now: an aware datetime (signup_relay.clock.utc_now()); key: below
        ...                        # do not call Constant Contact; leave the work queued, untouched
    try:
        ...call Constant Contact...
    except QuotaExceededError as error:
        breaker.trip(now, error.quota_key)

`key` None is the V3 app key, the fleet's: a trip on it stops everything, as follows. A V2 API key's id
(`ConstantContactV2Client.quota_key`, carried by the error) stops only the work on that key, in this container,
until the reset (other containers each learn it by their own one refused call); `is_open(now, key)` is also true
whenever the app key's breaker is open.

`trip(now)` opens the breaker in this container at once and disables the Lambda event source mapping(s) of the
sign-up queue (`lambda:UpdateEventSourceMapping`, Enabled=False), so no consumer is invoked until the
stack's schedule re-enables them just after 00:00 UTC (`QuotaResetSchedule` in template.yaml). `is_open(now)`
is true while this container tripped (until the reset) or while the sign-up queue's consumer is switched off
(read at most once a minute: a trip in another container or function is seen within a minute). A breaker for a
consumer the switch feeds (`get_quota_breaker(fed_by_switch=True)`, UpsertFunction) never reads it: while the
switch is off Lambda does not invoke that consumer, so its own trip is all it needs, and it makes no AWS call until
it trips. A trip puts the
`QuotaBreakerTripped` metric, a V2 key's trip `V2QuotaBreakerTripped` (flushed by the handler's
`metrics.log_metrics`). A function using it needs `QUEUE_URL`, `lambda:ListEventSourceMappings` (on "*"),
`sqs:GetQueueAttributes` on the sign-up queue and `lambda:UpdateEventSourceMapping` on the mapping (template.yaml,
`UpsertQuotaBreakerPolicy`, `BulkDrainQuotaBreakerPolicy`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any, Protocol

from signup_relay.caches import per_container
from signup_relay.config import get_settings
from signup_relay.observability import logger, metrics

# The schedule re-enables the consumer one minute after Constant Contact's 00:00 UTC reset, so that a clock a few
# seconds apart cannot make the first call of the day meet yesterday's quota and stop the fleet for another day.
RESET_MARGIN = timedelta(minutes=1)
RECHECK_SECONDS = 60.0  # how stale this container's view of the consumer switch may be
TRIPPED_METRIC = "QuotaBreakerTripped"
V2_TRIPPED_METRIC = "V2QuotaBreakerTripped"
_OFF_STATES = frozenset({"Disabled", "Disabling"})


def quota_resets_at(now: datetime) -> datetime:
    """The first reset after `now`: 00:00 UTC plus the margin, when the schedule switches the consumer back on."""
    reset = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0) + RESET_MARGIN
    return reset if reset > now else reset + timedelta(days=1)


class Switch(Protocol):
    def is_off(self) -> bool: ...

    def turn_off(self) -> None: ...


@dataclass
class ConsumerSwitch:
    """The Lambda event source mapping(s) consuming the sign-up queue: the fleet's one on/off switch."""

    queue_url: str
    sqs_client: Any
    new_lambda_client: Callable[[], Any]  # called on first use: a breaker that never trips never builds it
    _queue_arn: str = ""

    @cached_property
    def _lambda(self) -> Any:
        return self.new_lambda_client()

    def is_off(self) -> bool:
        """True when every mapping of the queue is disabled or disabling (False when the queue has none)."""
        states = [mapping["State"] for mapping in self._list()]
        return bool(states) and all(state in _OFF_STATES for state in states)

    def turn_off(self) -> None:
        for mapping in self._list():
            if mapping["State"] not in _OFF_STATES:
                self._lambda.update_event_source_mapping(UUID=mapping["UUID"], Enabled=False)

    def _list(self) -> list[dict[str, Any]]:
        if not self._queue_arn:
            attributes = self.sqs_client.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])
            self._queue_arn = attributes["Attributes"]["QueueArn"]
        pages = self._lambda.get_paginator("list_event_source_mappings").paginate(EventSourceArn=self._queue_arn)
        return [mapping for page in pages for mapping in page.get("EventSourceMappings", [])]


class QuotaBreaker:
    """One container's breaker: open from a trip until the reset, or while the consumer switch reads off; and, per
    V2 API key, open from that key's trip until the reset."""

    def __init__(self, switch: Switch, *, recheck_seconds: float = RECHECK_SECONDS, reads_switch: bool = True) -> None:
        self._switch = switch
        self._reads_switch = reads_switch
        self._recheck = timedelta(seconds=recheck_seconds)
        self._lock = threading.Lock()
        self._open_until: datetime | None = None
        # Until when this container's own trip holds although the switch reads on: its switch-off failed.
        self._unswitched_until: datetime | None = None
        self._checked_at: datetime | None = None
        self._keys_open_until: dict[str, datetime] = {}

    def is_open(self, now: datetime, key: str | None = None) -> bool:
        """Whether Constant Contact must not be called now: on the app key (None), or on the V2 key `key`."""
        with self._lock:
            if self._reads_switch and (
                self._checked_at is None or now - self._checked_at >= self._recheck or now < self._checked_at
            ):
                self._checked_at = now
                self._read_switch(now)
            if self._open_until is not None and now < self._open_until:
                return True
            key_open_until = self._keys_open_until.get(key) if key is not None else None
            return key_open_until is not None and now < key_open_until

    def trip(self, now: datetime, key: str | None = None) -> None:
        """After a `quota_exceeded` on the app key (None): open the breaker until the reset and switch the sign-up
        queue's consumer off; on a V2 key: open that key's breaker in this container until the reset (idempotent)."""
        resumes_at = quota_resets_at(now)
        if key is not None:
            self._trip_key(now, key, resumes_at)
            return
        with self._lock:
            already_open = self._open_until is not None and now < self._open_until
            self._open_until = resumes_at
            self._checked_at = now
        switched_off = _unless_aws_fails(self._switch.turn_off) is not _FAILED
        with self._lock:
            self._unswitched_until = None if switched_off else resumes_at
        if not already_open:
            metrics.add_metric(name=TRIPPED_METRIC, unit="Count", value=1)
        logger.warning(
            "quota breaker tripped: no Constant Contact calls until the reset",
            extra={"resumes_at": resumes_at.isoformat(), "consumer_switched_off": switched_off},
        )

    def open_keys(self, now: datetime) -> list[str]:
        """The V2 keys whose breaker is open in this container now (their ids, sorted)."""
        with self._lock:
            return sorted(key for key, until in self._keys_open_until.items() if now < until)

    def _trip_key(self, now: datetime, key: str, resumes_at: datetime) -> None:
        # Not the switch: the queue is shared, and the app key's sign-ups (and other V2 keys') must keep flowing.
        with self._lock:
            previous = self._keys_open_until.get(key)
            self._keys_open_until[key] = resumes_at
        if previous is None or now >= previous:
            metrics.add_metric(name=V2_TRIPPED_METRIC, unit="Count", value=1)
        logger.warning(
            "quota breaker tripped for a V2 API key: no calls on that key until the reset",
            extra={"quota_key": key, "resumes_at": resumes_at.isoformat()},
        )

    def _read_switch(self, now: datetime) -> None:
        off = _unless_aws_fails(self._switch.is_off)
        if off is _FAILED:  # unknown: keep what this container knows
            return
        # Off: nothing is consumed until the schedule switches it on after the reset. On: the reset has come (or
        # the consumer was never switched off), whatever this container tripped before, unless this container's
        # own switch-off failed: it then stays open until the reset by its own clock.
        self._open_until = quota_resets_at(now) if off else self._unswitched_until


_FAILED = object()


def _unless_aws_fails(call: Callable[[], Any]) -> Any:
    """`call()`, or _FAILED when AWS refused or failed it (logged): the breaker never fails a sign-up itself."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return call()
    except (BotoCoreError, ClientError) as error:
        logger.warning("quota breaker: the consumer switch is unavailable", extra={"error": type(error).__name__})
        return _FAILED


@per_container(maxsize=2)
def get_quota_breaker(*, fed_by_switch: bool = False) -> QuotaBreaker:
    """This container's breaker, on the sign-up queue of the settings. `fed_by_switch`: for the consumer the switch
    feeds (UpsertFunction), which is invoked only while it is on and so never reads it."""
    import boto3
    from botocore.config import Config

    from signup_relay.aws.queue import get_sqs_client

    config = Config(connect_timeout=2, read_timeout=5, retries={"max_attempts": 3, "mode": "standard"})
    switch = ConsumerSwitch(
        queue_url=get_settings().queue_url,
        new_lambda_client=lambda: boto3.client("lambda", config=config),
        sqs_client=get_sqs_client(),
    )
    return QuotaBreaker(switch, reads_switch=not fed_by_switch)

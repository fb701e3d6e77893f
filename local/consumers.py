"""What invokes the functions without an HTTP request: the poller that feeds the queue's consumer as its event source
mapping would (only while the mapping is enabled), the template's mapping schedules (the quota breaker's re-enable),
its ScheduleV2 functions (the burst drain) and the token refresh schedule."""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from local.functions import LocalFunction, sqs_event
from local.template import MappingSchedule, QueueConsumer, ScheduledFunction

# Upsert "containers" the poller runs. One: the handler's module state (its batch processor) serves one invocation
# at a time, as in Lambda. The handlers see UPSERT_MAX_CONCURRENCY=1, so this one container paces itself to the
# whole CC_RATE_LIMIT_PER_SECOND, as the deployed ones share it UpsertMaxConcurrency ways (the limit is per API key:
# https://developer.constantcontact.com/api_guide/rate_limits.html).
UPSERT_CONTAINERS = 1


class ConsumerLoops:
    """The stack's background loops, one thread each (`threads()`), until `stopping` is set."""

    def __init__(
        self,
        *,
        functions: dict[str, LocalFunction],
        consumers: list[QueueConsumer],
        scheduled: list[ScheduledFunction],
        schedules: list[MappingSchedule],
        mappings: dict[str, str],
        queue_url: str,
        sqs: Any,
        lambda_client: Any,
        clock: Callable[[], datetime],
        state_lock: threading.Lock,
        stopping: threading.Event,
        drain_reports: list[dict[str, Any]],
        poll_interval: float,
        token_refresh_interval: float,
        burst_interval: float,
    ) -> None:
        """`clock` is the Constant Contact clock the mapping schedules run on; `state_lock` is held while a batch is
        received and a schedule switches a mapping; each drain run that received sign-ups goes to `drain_reports`."""
        self.functions = functions
        self.consumers = consumers
        self.scheduled = scheduled
        self.schedules = schedules
        self.mappings = mappings
        self.queue_url = queue_url
        self._sqs = sqs
        self._lambda = lambda_client
        self._clock = clock
        self._state_lock = state_lock
        self._stopping = stopping
        self.drain_reports = drain_reports
        self.poll_interval = poll_interval
        self.token_refresh_interval = token_refresh_interval
        self.burst_interval = burst_interval
        self._busy = threading.Event()
        self._draining = threading.Event()
        self._consume_lock = threading.Lock()
        self._drain_waiting = threading.Event()

    def threads(self) -> list[threading.Thread]:
        """One daemon thread per loop, not started."""
        return [
            threading.Thread(target=self._poll, name="local-poller", daemon=True),
            threading.Thread(target=self._refresh_tokens_on_schedule, name="local-token-refresh", daemon=True),
            threading.Thread(target=self._run_mapping_schedules, name="local-mapping-schedules", daemon=True),
            *(
                threading.Thread(target=self._run_on_schedule, args=(s.function,), name="local-schedule", daemon=True)
                for s in self.scheduled
            ),
        ]

    def busy(self) -> bool:
        """A batch or a drain run is being processed."""
        return self._busy.is_set() or self._draining.is_set()

    @contextlib.contextmanager
    def consumers_paused(self) -> Iterator[None]:
        """Hold the poller and the burst drain while the block runs (a burst arriving all at once)."""
        with self._consume_lock:
            yield

    # --- queue -> upsert ---------------------------------------------------------------------

    def _poll(self) -> None:
        consumer = self.consumers[0]
        url = self.queue_url
        arn = self._sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        function = self.functions[consumer.function]
        while not self._stopping.is_set():
            if self._drain_waiting.is_set():  # let the scheduled drain in between two batches
                self._stopping.wait(0.01)
                continue
            try:
                if not self.consumer_enabled(consumer.logical_id):  # Lambda polls only an enabled mapping
                    self._stopping.wait(self.poll_interval)
                    continue
                with self._consume_lock:
                    with self._state_lock:
                        messages = self._sqs.receive_message(
                            QueueUrl=url,
                            MaxNumberOfMessages=consumer.batch_size,
                            MessageSystemAttributeNames=["All"],
                        ).get("Messages", [])
                        if messages:
                            self._busy.set()
                    if messages:
                        self._deliver(function, messages, url, arn)
                if not messages:
                    self._stopping.wait(self.poll_interval)
                    continue
            except Exception as error:  # keep polling: a local stack should survive a bad batch
                print(f"[local] poller: {type(error).__name__}: {error}", file=sys.stderr)
                self._stopping.wait(1)
            finally:
                self._busy.clear()

    def _deliver(self, function: LocalFunction, messages: list[dict[str, Any]], url: str, arn: str) -> None:
        try:
            response = function.invoke(sqs_event(messages, arn)) or {}
            failed = {item["itemIdentifier"] for item in response.get("batchItemFailures", [])}
        except Exception as error:  # a function error returns the whole batch to the queue
            print(f"[local] {function.name} raised {type(error).__name__}: {error}", file=sys.stderr)
            failed = {message["MessageId"] for message in messages}
        done = [m for m in messages if m["MessageId"] not in failed]
        if done:
            self._sqs.delete_message_batch(
                QueueUrl=url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)],
            )

    def consumer_enabled(self, mapping: str) -> bool:
        from local.aws_resources import mapping_state

        return mapping_state(self.mappings[mapping], client=self._lambda) == "Enabled"

    # --- schedules ---------------------------------------------------------------------------

    def _run_on_schedule(self, function_name: str) -> None:
        """A ScheduleV2 event (the burst drain's backlog check), in-process every `burst_interval` seconds."""
        function = self.functions[function_name]
        while not self._stopping.wait(self.burst_interval):
            try:
                # One consumer at a time: the local queue's visibility is cut to seconds, so a batch the poller is
                # still working on could otherwise be received again by the drain (deployed: 360 s).
                self._drain_waiting.set()
                with self._consume_lock:
                    self._drain_waiting.clear()
                    self._draining.set()
                    report = function.invoke({"source": "aws.scheduler"})
                if isinstance(report, dict) and report.get("received"):
                    self.drain_reports.append(report)
            except Exception as error:  # the next run tries again, as the scheduler would
                print(f"[local] {function_name}: {type(error).__name__}: {error}", file=sys.stderr)
            finally:
                self._drain_waiting.clear()
                self._draining.clear()

    def _run_mapping_schedules(self) -> None:
        """The template's mapping schedules (the quota breaker's re-enable), run at their UTC time of the Constant
        Contact clock, as EventBridge Scheduler runs them at the real one."""
        from local.aws_resources import run_mapping_schedule
        from signup_relay.aws.quota_breaker import get_quota_breaker

        due = {schedule: schedule.next_run(self._clock()) for schedule in self.schedules}
        while not self._stopping.wait(self.poll_interval):
            now = self._clock()
            for schedule, at in due.items():
                if now < at:
                    continue
                due[schedule] = schedule.next_run(now)
                try:
                    with self._state_lock:
                        run_mapping_schedule(schedule, self.mappings, client=self._lambda)
                        # A deployed container's breaker closes at the reset by its own clock; the in-process one
                        # runs on the wall clock, which did not jump with the sandbox's: start it afresh.
                        get_quota_breaker.cache_clear()  # type: ignore[attr-defined]  # per_container: an lru_cache
                except Exception as error:  # keep the schedule alive, as EventBridge would
                    print(f"[local] {schedule.logical_id}: {type(error).__name__}: {error}", file=sys.stderr)

    def quota_breaker_status(self) -> dict[str, Any]:
        """The consumers' switch, the V2 keys held by the in-process breakers (upsert's, the drain's) and the next
        reset, for /_local/status."""
        from local.aws_resources import mapping_state
        from signup_relay.aws.quota_breaker import get_quota_breaker
        from signup_relay.clock import utc_now

        now = self._clock()
        return {
            "consumers": {name: mapping_state(uuid, client=self._lambda) for name, uuid in self.mappings.items()},
            "open": not all(self.consumer_enabled(name) for name in self.mappings),
            # The in-process container runs on the wall clock (the one its breaker reads), not the sandbox's
            "v2_keys_open": sorted(
                {key for fed in (True, False) for key in get_quota_breaker(fed_by_switch=fed).open_keys(utc_now())}
            ),
            "constant_contact_time": now.isoformat(),
            "next_reset": min((s.next_run(now).isoformat() for s in self.schedules), default=None),
        }

    # --- tokens ------------------------------------------------------------------------------

    def _refresh_tokens_on_schedule(self) -> None:
        """The deployed EventBridge schedule, in-process: the single writer's scheduled check, once a minute."""
        from signup_relay.tokens.refresh_function import run_token_refresh

        while not self._stopping.wait(self.token_refresh_interval):
            try:
                run_token_refresh({"mode": "scheduled"})
            except Exception as error:  # keep the schedule alive; the next run retries, as EventBridge would
                print(f"[local] scheduled token refresh: {type(error).__name__}: {error}", file=sys.stderr)

"""A sign-up burst through the local stack (webhooks over HTTP, the poller, the burst drain, the sandbox), run
once per contact and once in burst mode; used by tests/local and the burst benchmark.

Time is scaled, not skipped: the sandbox's rate limit and the relay's pacing are raised by the same factor
(`rate / 4`), and so is the drain's schedule, so a run spends the same number of rate-limit slots as at 4
requests/s in a fraction of the wall time.
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from local.cc_sandbox import Sandbox
from local.stack import LocalStack
from tests.bulk_support import seed_person, stored_view

GENERIC_TOKEN = "demo-generic-token-3f9a1c7e5b2d4f60"  # local/demo_secrets.json: demo routes only
REAL_RATE = 4.0  # Constant Contact's requests/s per API key
DEPLOYED_INTERVAL = 60.0  # the drain's schedule, deployed


def generic_body(email: str, *, explicit: bool, **fields: str) -> dict[str, str]:
    """A Zapier-style delivery for the `generic` route (routes.yaml): consent "true" = explicit, else implicit."""
    body = {"email": email, **fields}
    if explicit:
        body["consent"] = "true"
    return body


def post(url: str, body: dict[str, str], delivery_id: str) -> tuple[int, str | None]:
    """POST one delivery; the status and the id answered (None when refused)."""
    request = urllib.request.Request(
        f"{url}/hooks/generic",
        data=json.dumps(body).encode(),
        method="POST",
        headers={
            "content-type": "application/json",
            "x-signup-relay-token": GENERIC_TOKEN,
            "idempotency-key": delivery_id,
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return int(response.status), json.loads(response.read()).get("id")
    except urllib.error.HTTPError as error:
        return int(error.code), None


def seed_account(sandbox: Sandbox, people: dict[str, str]) -> None:
    """`people`: email -> a kind of `seed_person` (rich, deleted, unsubscribed, gone); others are new."""
    sandbox.seed_list("Newsletter")
    sandbox.seed_list("Events")
    for email, kind in people.items():
        seed_person(sandbox, email, kind)


@dataclass
class Burst:
    """What a run left behind."""

    mode: str
    views: dict[str, Any]
    statuses: Counter[int]
    outcomes: dict[str, int]
    results: dict[str, dict[str, Any]]
    dlq: list[dict[str, Any]]
    drain_runs: list[dict[str, Any]]
    cc_calls: int
    throttled: int
    drain_seconds: float  # real seconds
    sandbox_seconds: float  # the sandbox clock: seconds at Constant Contact's real rate
    accepted: list[str]
    calls_by_path: Counter[str] = field(default_factory=Counter)
    peak_heap: dict[str, int] = field(default_factory=dict)  # function -> tracemalloc peak bytes of one invocation

    @property
    def lost(self) -> list[str]:
        """Accepted ids with no final outcome and no DLQ record."""
        final = {k for k, v in self.results.items() if v["outcome"] not in ("deferred",)}
        kept = {str(r.get("queued_id")) for r in self.dlq}
        return [i for i in self.accepted if i not in final and i not in kept]


def run_burst(
    deliveries: list[tuple[str, dict[str, str]]],
    people: dict[str, str],
    *,
    burst: bool,
    rate: float,
    threshold: int = 100,
    activity_delay: float = 2.0,
    on_sandbox: Callable[[Sandbox], None] | None = None,
    limit_seconds: float = 1200,
    burst_interval: float | None = None,
    time_scale: float | None = None,
    activity_item_seconds: float = 0.0,
    measure_memory: bool = False,
) -> Burst:
    """Queue every (delivery id, body) through the webhook, then let the consumers go; wait until drained and
    return the stored state of every address (times count from when the burst was queued).

    The drain runs every minute scaled, or every `burst_interval` seconds. With `time_scale` the sandbox's own
    clock runs that much faster (its 4 requests/s become `4 x time_scale` real ones, `rate` is ignored);
    without it, the sandbox's limit is raised to `rate`."""
    if time_scale is not None:
        rate = REAL_RATE * time_scale
    scale = rate / REAL_RATE
    saved = os.environ.get("CC_RATE_LIMIT_PER_SECOND")
    os.environ["CC_RATE_LIMIT_PER_SECOND"] = str(rate)
    try:
        with LocalStack(
            port=0,
            constant_contact_env={},
            burst_interval=burst_interval or DEPLOYED_INTERVAL / scale,
            burst_threshold=threshold if burst else 0,
        ) as stack:
            sandbox = stack.sandbox
            if time_scale is not None:
                sandbox.time_scale = time_scale
                sandbox.activity_delay = activity_delay
                sandbox.activity_item_seconds = activity_item_seconds
            else:
                sandbox.rate_limit_per_second = rate
                sandbox.activity_delay = activity_delay / scale
                sandbox.activity_item_seconds = activity_item_seconds / scale
            peaks: dict[str, int] = {}
            if measure_memory:
                _measure_invocations(stack, peaks)
            seed_account(sandbox, people)
            if on_sandbox is not None:
                on_sandbox(sandbox)
            sandbox.clear_request_log()
            with stack.consumers_paused():  # the whole burst is queued before anything consumes it
                answers = [post(stack.url, body, delivery_id) for delivery_id, body in deliveries]
                started, sandbox_started = time.monotonic(), sandbox.clock.time()
            statuses = Counter(status for status, _ in answers)
            deadline = started + limit_seconds
            while not stack.drained():
                if time.monotonic() > deadline:
                    raise TimeoutError(f"the {'burst' if burst else 'per-contact'} run did not drain")
                time.sleep(0.1)
            elapsed, sandbox_elapsed = time.monotonic() - started, sandbox.clock.time() - sandbox_started
            _finish_activities(sandbox)  # a tagging activity the per-contact path started may still be due
            log = sandbox.request_log
            status = stack.status()
            emails = sorted({body["email"] for _, body in deliveries})
            return Burst(
                mode="burst" if burst else "per-contact",
                views={email: stored_view(sandbox, email) for email in emails},
                statuses=statuses,
                outcomes=dict(status["outcomes"]),
                results=dict(status["results"]),
                dlq=list(status["dlq"]["records"]),
                drain_runs=list(status["burst"]["runs"]),
                cc_calls=sum(1 for r in log if r["path"].startswith("/v3/")),
                throttled=sum(1 for r in log if r["status"] == 429),
                drain_seconds=elapsed,
                sandbox_seconds=sandbox_elapsed if time_scale is not None else elapsed * scale,
                accepted=[i for _, i in answers if i],
                peak_heap=peaks,
                calls_by_path=Counter(_kind(r["method"], r["path"]) for r in log if r["path"].startswith("/v3/")),
            )
    finally:
        if saved is None:
            os.environ.pop("CC_RATE_LIMIT_PER_SECOND", None)
        else:
            os.environ["CC_RATE_LIMIT_PER_SECOND"] = saved


def _kind(method: str, path: str) -> str:
    parts = path.split("/")
    if len(parts) > 3 and parts[2] == "contacts" and parts[3] not in ("sign_up_form", "resubscribe"):
        parts[3] = "{id}"
    if (
        len(parts) > 3
        and parts[2] == "activities"
        and parts[3] not in ("contacts_json_import", "contacts_taggings_add")
    ):
        parts[3] = "{id}"
    return f"{method} {'/'.join(parts[:4])}"


def _finish_activities(sandbox: Sandbox, limit_seconds: float = 30) -> None:
    deadline = time.monotonic() + limit_seconds
    while sandbox.queued_activities():
        if time.monotonic() > deadline:
            raise TimeoutError("a sandbox activity never completed")
        time.sleep(0.05)
        sandbox.process_activities()


def _measure_invocations(stack: LocalStack, peaks: dict[str, int]) -> None:
    """Record each function's largest tracemalloc peak over one invocation (poller and drain run one at a time;
    the HTTP and sandbox threads allocating meanwhile are counted too, so it is an upper bound)."""
    import tracemalloc

    tracemalloc.start()
    for name in ("UpsertFunction", "BulkDrainFunction"):
        function = stack.functions[name]
        invoke = function.invoke

        def measured(event: dict[str, Any], invoke: Callable[..., Any] = invoke, name: str = name) -> Any:
            tracemalloc.reset_peak()
            try:
                return invoke(event)
            finally:
                peaks[name] = max(peaks.get(name, 0), tracemalloc.get_traced_memory()[1])

        function.invoke = measured  # type: ignore[method-assign]

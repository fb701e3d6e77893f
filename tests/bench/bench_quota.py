"""Benchmark: the daily quota through the local stack (docs/architecture.md §12). 500 sign-ups queued while
Constant Contact's quota is spent: the calls made until the reset (target: at most 1 per consumer), then the reset
(the sandbox clock passes 00:00 UTC and the stack runs the schedule): every sign-up applied, as the sandbox stores
it, and no DLQ entry.

`python -m tests.bench.bench_quota [--signups N]`. Pacing is off (the sandbox's per-second limit too): this measures
calls, not time.
"""

from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import requests

from local.aws_resources import demo_webhook_secrets
from local.consumers import UPSERT_CONTAINERS
from local.stack import LocalStack
from tests.faults.scenario import ServiceLog, environment_variable, quiet_service_output, wait_until

SIGNUPS = 500
SENDERS = 4
TIME_LIMIT_SECONDS = 600.0


def send(url: str, token: str, n: int) -> str:
    answer = requests.post(
        f"{url}/hooks/generic",
        json={"email": f"quota-bench-{n}@example.com", "first_name": f"Reader{n}"},
        headers={"X-Signup-Relay-Token": token, "Idempotency-Key": f"quota-bench-{n}"},
        timeout=30,
    )
    answer.raise_for_status()
    return str(answer.json()["id"])


def api_statuses(stack: LocalStack) -> list[int]:
    return [int(r["status"]) for r in stack.sandbox.request_log if str(r["path"]).startswith("/v3/")]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.bench_quota", description=__doc__.splitlines()[0])
    parser.add_argument("--signups", type=int, default=SIGNUPS)
    args = parser.parse_args([] if argv is None else argv)
    token = demo_webhook_secrets()["generic"]
    log = ServiceLog()
    with (
        environment_variable("CC_RATE_LIMIT_PER_SECOND", "0"),
        quiet_service_output(log),
        LocalStack(port=0, constant_contact_env={}) as stack,
    ):
        sandbox = stack.sandbox
        sandbox.rate_limit_per_second = 0
        sandbox.daily_quota = 0  # today's quota is spent
        deadline = time.monotonic() + TIME_LIMIT_SECONDS

        with ThreadPoolExecutor(SENDERS) as senders:
            ids = list(senders.map(lambda n: send(stack.url, token, n), range(args.signups)))
        paused = wait_until(
            lambda: stack.status()["quota_breaker"]["open"] and stack.queue_depth()["visible"] == args.signups,
            deadline,
        )
        time.sleep(2)  # ten poll intervals: a paused consumer makes no call
        before_reset = api_statuses(stack)
        depth_while_paused = stack.queue_depth()
        drained_while_paused = stack.status()["drained"]

        sandbox.daily_quota = 10_000  # the new day's quota
        now = stack.constant_contact_now()
        sandbox.clock.advance((stack.schedules[0].next_run(now) - now + timedelta(seconds=1)).total_seconds())
        reset_at = time.monotonic()
        drained = wait_until(stack.drained, deadline)
        drain_seconds = time.monotonic() - reset_at
        status = stack.status()
        after_reset = api_statuses(stack)[len(before_reset) :]
        applied = sum(sandbox.contact_by_email(f"quota-bench-{n}@example.com") is not None for n in range(args.signups))
        created = sum(status["results"].get(i, {}).get("outcome") == "created" for i in ids)
        dlq = len(status["dlq"]["records"])

    print(f"quota breaker: {args.signups} sign-ups queued while the daily quota is spent, {UPSERT_CONTAINERS} consumer")
    print(
        f"  until the reset: {len(before_reset)} Constant Contact calls ({before_reset.count(429)} answered 429), "
        f"target <= {UPSERT_CONTAINERS} per consumer; consumer paused: {paused}; queued {depth_while_paused['visible']}"
        f" visible, {depth_while_paused['in_flight']} in flight; drained while paused: {drained_while_paused}"
    )
    print(
        f"  after the reset: {len(after_reset)} calls ({after_reset.count(429)} answered 429), drained: {drained} in "
        f"{drain_seconds:.1f} s; applied (stored contacts): {applied}/{args.signups}, outcome created: {created}; "
        f"DLQ entries: {dlq}"
    )
    problems = []
    if len(before_reset) > UPSERT_CONTAINERS:
        problems.append(f"{len(before_reset)} calls before the reset")
    if applied != args.signups or dlq or not drained:
        problems.append(f"applied {applied}/{args.signups}, DLQ {dlq}, drained {drained}")
    print(f"  verdict: {'; '.join(problems) if problems else 'met'}")


if __name__ == "__main__":
    main(sys.argv[1:])

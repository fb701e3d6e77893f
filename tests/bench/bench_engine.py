"""Benchmark: Constant Contact calls and engine CPU per sign-up, for 1,000 mixed sign-ups through the engine.

Runs the real engine (`get_upserter().upsert`) against the in-process sandbox over real HTTP on 127.0.0.1,
with the sandbox's per-second rate limit OFF and the engine's pacing OFF (so the run measures work, not
waiting), and Secrets Manager from moto. Engine CPU is `time.thread_time()` of the calling thread around
each upsert: it counts the engine, requests/urllib3 and JSON work on the client side, and excludes the
sandbox, whose HTTP server answers on its own threads.
"""

from __future__ import annotations

import statistics
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from moto import mock_aws

from local.cc_sandbox import Sandbox
from signup_relay.models import ConsentEvidence, Signup
from signup_relay.routes import Consent
from signup_relay.upsert import wiring as engine
from tests.bench.engine_env import point_engine_env
from tests.oauth_secret import seed_oauth_secret

SIGNUPS = 1000
SECRET_ID = "signup-relay/bench"
EVIDENCE = ConsentEvidence(at=datetime(2026, 11, 26, tzinfo=UTC), source="bench", form="Bench", ip="203.0.113.1")


# Requests whose only purpose is resolving list / custom field / tag names (reported apart).
NAME_LOOKUP_PATHS = ("/v3/contact_lists", "/v3/contact_custom_fields", "/v3/contact_tags")


@dataclass(frozen=True)
class Case:
    name: str
    prior: str  # none | active | deleted | unsubscribed
    consent: Consent
    long_email: bool = False
    tags: tuple[str, ...] = ()


CASES = (
    Case("new, explicit", "none", Consent.EXPLICIT),
    Case("new, explicit, tag", "none", Consent.EXPLICIT, tags=("bench",)),
    Case("new, implicit", "none", Consent.IMPLICIT),
    Case("new, explicit, long email", "none", Consent.EXPLICIT, long_email=True),
    Case("active, explicit", "active", Consent.EXPLICIT),
    Case("active, implicit", "active", Consent.IMPLICIT),
    Case("active, implicit, long email", "active", Consent.IMPLICIT, long_email=True),
    Case("deleted, explicit", "deleted", Consent.EXPLICIT),
    Case("deleted, implicit", "deleted", Consent.IMPLICIT),
    Case("unsubscribed, explicit", "unsubscribed", Consent.EXPLICIT),
    Case("unsubscribed, implicit", "unsubscribed", Consent.IMPLICIT),
)


def _email(case_index: int, n: int, long_email: bool) -> str:
    local = f"bench-{case_index}-{n}"
    if long_email:
        local += "-with-a-deliberately-long-local-part-x"  # 51-80 characters in all
    return f"{local}@example.com"


def _seed(sandbox: Sandbox, case: Case, email: str) -> None:
    if case.prior == "none":
        return
    contact_id = sandbox.seed_contact(
        email, first_name="Seeded", job_title="Analyst", lists=["Events"], permission_to_send="implicit"
    )
    if case.prior == "deleted":
        sandbox.delete_contact(contact_id)
    elif case.prior == "unsubscribed":
        sandbox.unsubscribe_contact(contact_id)


def _build(sandbox: Sandbox) -> list[tuple[Case, Signup]]:
    """1,000 sign-ups, the cases interleaved round-robin, prior states seeded directly in the sandbox."""
    work: list[tuple[Case, Signup]] = []
    for n in range(SIGNUPS):
        index = n % len(CASES)
        case = CASES[index]
        email = _email(index, n, case.long_email)
        _seed(sandbox, case, email)
        signup = Signup(
            email=email,
            first_name="Bench",
            last_name=f"Person {n}",
            lists=("News",),
            tags=case.tags,
            consent=case.consent,
            consent_evidence=EVIDENCE,
            source="bench",
            route="bench",
        )
        work.append((case, signup))
    return work


def run(report: Callable[[str], None] = print) -> dict[str, float]:
    with Sandbox(rate_limit_per_second=0) as sandbox:
        point_engine_env(sandbox, SECRET_ID)
        # moto only while the secret is created and first read: its HTTP interception (`responses`) would
        # otherwise sit in every engine request and be measured as engine CPU. The token stays cached.
        with mock_aws():
            seed_oauth_secret(sandbox, SECRET_ID)
            upserter = engine.get_upserter()
            upserter.tokens.access_token()
        sandbox.seed_list("News")
        sandbox.seed_list("Events")
        work = _build(sandbox)

        calls: dict[str, list[int]] = defaultdict(list)
        outcomes: dict[str, set[str]] = defaultdict(set)
        cpu: list[float] = []
        name_calls = 0
        process_start, wall_start = time.process_time(), time.perf_counter()
        sandbox.clear_request_log()
        for case, signup in work:
            with upserter.client.meter() as meter:
                started = time.thread_time()
                result = upserter.upsert(signup)
                cpu.append(time.thread_time() - started)
            lookups = sum(1 for request in sandbox.request_log if request["path"].startswith(NAME_LOOKUP_PATHS))
            sandbox.clear_request_log()
            name_calls += lookups
            calls[case.name].append(meter.calls - lookups)
            outcomes[case.name].add(result.outcome.value)
        process_cpu, wall = time.process_time() - process_start, time.perf_counter() - wall_start

    total_calls = sum(sum(v) for v in calls.values()) + name_calls
    report(f"engine benchmark: {SIGNUPS} mixed sign-ups against the sandbox over HTTP on 127.0.0.1")
    report("  sandbox rate limit OFF (rate_limit_per_second=0) and engine pacing OFF: measures work, not waiting")
    report(f"  {'case':<32} {'n':>4} {'CC calls/sign-up':>17}  outcome")
    for case in CASES:
        per = calls[case.name]
        report(
            f"  {case.name:<32} {len(per):>4} {statistics.mean(per):>17.2f}  {', '.join(sorted(outcomes[case.name]))}"
        )
    report(
        f"  name lookups (lists/custom fields/tags): {name_calls} calls in all, "
        f"{name_calls / SIGNUPS:.3f} per sign-up amortized"
    )
    report(f"  all CC calls: {total_calls} = {total_calls / SIGNUPS:.2f} per sign-up")
    cpu_ms = [c * 1000 for c in cpu]
    report(
        f"  engine CPU per sign-up (time.thread_time of the calling thread, sandbox threads excluded): "
        f"mean {statistics.mean(cpu_ms):.2f} ms, median {statistics.median(cpu_ms):.2f} ms, "
        f"p95 {sorted(cpu_ms)[int(len(cpu_ms) * 0.95)]:.2f} ms"
    )
    report(
        f"  for reference: whole-process CPU incl. the in-process sandbox {process_cpu * 1000 / SIGNUPS:.2f} ms "
        f"per sign-up; wall {wall * 1000 / SIGNUPS:.2f} ms per sign-up"
    )
    return {
        "calls_per_signup": total_calls / SIGNUPS,
        "name_lookups_per_signup": name_calls / SIGNUPS,
        "cpu_ms_mean": statistics.mean(cpu_ms),
    }


def main() -> None:
    run()


if __name__ == "__main__":
    main()

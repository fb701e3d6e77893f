"""Benchmark: Constant Contact V2 calls per sign-up by case, through the V2 engine (docs/architecture.md §10).

The V2 counterpart of bench_engine.py's V3 table: the real engine (`get_upserter(account, "v2").upsert`) against
the in-process sandbox's V2 API over real HTTP on 127.0.0.1, rate limits and pacing off, Secrets Manager from moto
(only while the secrets are written and first read). List lookups are reported apart (they amortize to ~0); a
contact deleted in the UI is measured with and without the account's V3 app (`v3_account`), whose calls count too.
"""

from __future__ import annotations

import statistics
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
from tests.v2_account import seed_v2_secret

SIGNUPS = 300
V3_ACCOUNT = "signup-relay/bench"
V2_ACCOUNT = f"{V3_ACCOUNT}/legacy"
V2_WITH_V3 = f"{V3_ACCOUNT}/legacy-v3"
EVIDENCE = ConsentEvidence(at=datetime(2026, 11, 26, tzinfo=UTC), source="bench", form="Bench")
LIST_PATHS = ("/v2/lists", "/v3/contact_lists", "/v3/contact_custom_fields", "/v3/contact_tags")


@dataclass(frozen=True)
class Case:
    name: str
    prior: str  # none | active | removed | optout | deleted
    consent: Consent
    account: str = V2_ACCOUNT


CASES = (
    Case("new, explicit", "none", Consent.EXPLICIT),
    Case("new, implicit", "none", Consent.IMPLICIT),
    Case("active, implicit", "active", Consent.IMPLICIT),
    Case("active, explicit", "active", Consent.EXPLICIT),
    Case("removed (on no list)", "removed", Consent.IMPLICIT),
    Case("opted out, explicit", "optout", Consent.EXPLICIT),
    Case("opted out, implicit", "optout", Consent.IMPLICIT),
    Case("deleted in UI, no V3 app", "deleted", Consent.IMPLICIT),
    Case("deleted in UI, with V3 app", "deleted", Consent.IMPLICIT, account=V2_WITH_V3),
)


def _seed(sandbox: Sandbox, case: Case, email: str) -> None:
    if case.prior == "none":
        return
    lists = [] if case.prior == "removed" else ["Events"]
    permission = "unsubscribed" if case.prior == "optout" else "implicit"
    contact_id = sandbox.seed_contact(
        email, first_name="Seeded", job_title="Analyst", lists=lists, permission_to_send=permission
    )
    if case.prior == "deleted":
        sandbox.delete_contact(contact_id)


def run(report: Callable[[str], None] = print) -> dict[str, float]:
    with Sandbox(rate_limit_per_second=0) as sandbox:
        point_engine_env(sandbox, V3_ACCOUNT, v2=True)
        with mock_aws():  # only while the secrets are written and first read (see bench_engine.py)
            seed_oauth_secret(sandbox, V3_ACCOUNT)
            seed_v2_secret(sandbox, V2_ACCOUNT, cc_secret_id=V3_ACCOUNT)
            seed_v2_secret(sandbox, V2_WITH_V3, cc_secret_id=V3_ACCOUNT, v3_account=V3_ACCOUNT)
            for account in (V2_ACCOUNT, V2_WITH_V3, V3_ACCOUNT):
                upserter = engine.get_upserter(account)
                upserter.tokens.access_token()
                upserter.tokens.secret_field("v3_account")
        sandbox.seed_list("News")
        sandbox.seed_list("Events")
        work: list[tuple[Case, Signup]] = []
        for n in range(SIGNUPS):
            case = CASES[n % len(CASES)]
            email = f"bench-v2-{n}@example.com"
            _seed(sandbox, case, email)
            signup = Signup(
                email=email,
                first_name="Bench",
                lists=("News",),
                consent=case.consent,
                consent_evidence=EVIDENCE,
                source="bench",
                route="bench-v2",
                account=case.account,
            )
            work.append((case, signup))

        calls: dict[str, list[int]] = defaultdict(list)
        outcomes: dict[str, set[str]] = defaultdict(set)
        list_calls = 0
        sandbox.clear_request_log()
        for case, signup in work:
            result = engine.get_upserter(signup.account).upsert(signup)
            log = sandbox.request_log
            sandbox.clear_request_log()
            lookups = sum(1 for request in log if str(request["path"]).startswith(LIST_PATHS))
            assert result.calls == len(log), (case.name, result.calls, len(log))  # the meter counts every call
            list_calls += lookups
            calls[case.name].append(result.calls - lookups)
            outcomes[case.name].add(result.outcome.value)

    total = sum(sum(v) for v in calls.values()) + list_calls
    report(f"V2 engine benchmark: {SIGNUPS} mixed sign-ups against the sandbox's V2 API over HTTP on 127.0.0.1")
    report(f"  {'case':<32} {'n':>4} {'CC calls/sign-up':>17}  outcome")
    for case in CASES:
        per = calls[case.name]
        report(
            f"  {case.name:<32} {len(per):>4} {statistics.mean(per):>17.2f}  {', '.join(sorted(outcomes[case.name]))}"
        )
    report(f"  list lookups (V2 lists, and V3 names on the V3 path): {list_calls} calls in all")
    report(f"  all CC calls: {total} = {total / SIGNUPS:.2f} per sign-up")
    return {"calls_per_signup": total / SIGNUPS}


def main() -> None:
    run()


if __name__ == "__main__":
    main()

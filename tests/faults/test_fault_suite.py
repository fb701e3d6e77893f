"""The promise under faults: with 30% of the requests between the relay and Constant Contact failing (an error status,
a dropped connection, or a write applied and its answer lost), no accepted sign-up is lost, none is applied twice,
and the DLQ holds no record of a sign-up that nothing was wrong with. tests/faults/verdict.py defines each figure."""

from __future__ import annotations

from tests.faults.scenario import run_fault_scenario
from tests.faults.verdict import judge

SIGNUPS = 40  # the long form (make bench) sends about 200
SEED = 1


def test_no_signup_is_lost_duplicated_or_falsely_dead_lettered_at_thirty_percent_faults(fault_summary: list[str]):
    # Given the sandbox (rotating refresh tokens, 4 s access tokens) behind the fault proxy (30% faults), and the
    # local stack pointed at the proxy with a grant from the sandbox
    # When senders deliver new, existing, deleted and unsubscribed people's sign-ups, with and without consent,
    # twice in a row where the last must win, duplicated at once and replayed later, and the queue drains
    observation = run_fault_scenario(SIGNUPS, SEED)
    report = judge(observation)
    fault_summary.append(f"fault suite (short form): {report.line()}")

    # Then the faults really happened, every kind of them, and the tokens really expired along the way
    counts = observation.fault_counts
    faulted = counts["error_status"] + counts["dropped"] + counts["lost_answer"]
    assert min(counts["error_status"], counts["dropped"], counts["lost_answer"]) > 0, counts
    assert 0.2 < faulted / (faulted + counts["forwarded"]) < 0.4, counts
    assert any(r["grant_type"] == "refresh_token" and r["status"] == 200 for r in observation.token_requests)
    # And every accepted sign-up is in its contact as the policy requires: nothing lost, nothing applied twice,
    # no DLQ record but the planned 422s
    assert report.accepted == observation.plan.signups - len(observation.plan.invalid), report.explain()
    assert (report.lost, report.duplicates, report.false_dlq) == (0, 0, 0), report.explain()
    assert report.correct == report.accepted, report.explain()
    assert report.problems == [], report.explain()

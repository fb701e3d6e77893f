"""Burst mode in the local stack: webhooks over HTTP, the poller and the burst drain, the sandbox.

Rates are raised alike on both sides (tests/burst_scenario.py), so a backlog forms and drains in seconds.
"""

from __future__ import annotations

import pytest

from local.cc_sandbox import json_import
from tests.burst_scenario import generic_body, run_burst

RATE = 6.0


def mixed(prefix: str) -> tuple[list[tuple[str, dict[str, str]]], dict[str, str]]:
    people: dict[str, str] = {}
    deliveries: list[tuple[str, dict[str, str]]] = []
    for n in range(4):
        for kind in ("new", "rich", "deleted", "unsubscribed", "gone"):
            email = f"{prefix}-{kind}-{n}@example.com"
            if kind != "new":
                people[email] = kind
            body = generic_body(email, explicit=n % 2 == 0, first_name=f"F{n}", company=f"Co {kind}")
            deliveries.append((f"{email}-1", body))
    twice = f"{prefix}-twice@example.com"
    deliveries += [
        (f"{twice}-1", generic_body(twice, explicit=False, first_name="Old", company="Kept")),
        (f"{twice}-2", generic_body(twice, explicit=False, first_name="New", lists="events")),
        ("bad-1", {"email": "not-an-address"}),
    ]
    return deliveries, people


def test_a_mixed_burst_ends_as_the_per_contact_path_leaves_it() -> None:
    # Given the same mixed burst (new, rich, deleted, unsubscribed, both; explicit and implicit; one invalid)
    deliveries, people = mixed("m")
    # When it arrives at once, once with burst mode off and once on
    per_contact = run_burst(deliveries, people, burst=False, rate=RATE)
    burst = run_burst(deliveries, people, burst=True, rate=RATE, threshold=3, burst_interval=0.3)
    # Then every contact is stored alike, the last of two submissions winning
    assert {e: v for e, v in burst.views.items() if v != per_contact.views[e]} == {}
    twice = burst.views["m-twice@example.com"]
    assert twice["core"]["first_name"] == "New" and twice["core"]["company_name"] == "Kept"
    # And the drain imported part of it, losing nothing; only the invalid one is in the DLQ (the calls it saves
    # at scale are the benchmark's to measure)
    assert sum(run["imported"] for run in burst.drain_runs) > 0
    assert burst.statuses == per_contact.statuses == {200: len(deliveries) - 1, 422: 1}
    assert (
        [r["error_class"] for r in burst.dlq] == [r["error_class"] for r in per_contact.dlq] == ["invalid_submission"]
    )
    assert set(burst.results) == set(per_contact.results)
    # And every sign-up's final outcome is the same
    assert {k: v["outcome"] for k, v in burst.results.items()} == {
        k: v["outcome"] for k, v in per_contact.results.items()
    }


def test_rows_the_import_drops_stay_queued_and_are_applied_per_contact(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given an import that silently loses the rows past its limit (the sandbox's own cut past 40,000 rows, lowered)
    monkeypatch.setattr(json_import, "MAX_IMPORT_ROWS", 2)
    deliveries = [(f"d-{n}", generic_body(f"d-{n}@example.com", explicit=False, first_name=f"F{n}")) for n in range(13)]
    # When the burst drains
    burst = run_burst(deliveries, {}, burst=True, rate=RATE, threshold=3, burst_interval=0.3)
    # Then the lost rows were handed back, not deleted, and the per-contact path stored them
    assert sum(run["released"] for run in burst.drain_runs) >= 1
    assert {email: (view or {}).get("core", {}).get("first_name") for email, view in burst.views.items()} == {
        f"d-{n}@example.com": f"F{n}" for n in range(13)
    }
    assert burst.dlq == []

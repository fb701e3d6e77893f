"""Burst mode in the local stack: webhooks over HTTP, the poller and the burst drain, the sandbox.

Rates are raised alike on both sides (tests/burst_scenario.py), so a backlog forms and drains in seconds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from signup_relay.constant_contact.client import ConstantContactClient
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


def test_a_row_the_import_drops_stays_queued_and_is_applied_per_contact(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given an import that silently loses one row (as past 40,000 rows or 4 MB)
    lost = "d-lost@example.com"
    real_import = ConstantContactClient.import_contacts_json

    def dropping(
        self: ConstantContactClient, rows: Sequence[Mapping[str, Any]], list_ids: Sequence[str]
    ) -> dict[str, Any]:
        return real_import(self, [r for r in rows if r["email"] != lost], list_ids)

    monkeypatch.setattr(ConstantContactClient, "import_contacts_json", dropping)
    deliveries = [(f"d-{n}", generic_body(f"d-{n}@example.com", explicit=False)) for n in range(12)]
    deliveries.append(("d-lost", generic_body(lost, explicit=False, first_name="Lost")))
    # When the burst drains
    burst = run_burst(deliveries, {}, burst=True, rate=RATE, threshold=3, burst_interval=0.3)
    # Then the lost row was handed back, not deleted, and the per-contact path stored it
    assert sum(run["released"] for run in burst.drain_runs) >= 1
    assert burst.views[lost] is not None and burst.views[lost]["core"]["first_name"] == "Lost"
    assert all(view is not None for view in burst.views.values())
    assert burst.dlq == []

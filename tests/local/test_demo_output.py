"""`make demo`'s progress line and closing advice."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from local import demo

ROOT = Path(__file__).resolve().parents[2]


def test_progress_counts_sign_ups_with_a_final_outcome():
    # Given two accepted sign-ups, one created and one deferred (it will be retried), and one still queued
    status = {
        "queue": {"visible": 1, "in_flight": 1, "busy": True},
        "outcomes": {"created": 1, "deferred": 1},
        "results": {"a": {"outcome": "created"}, "b": {"outcome": "deferred"}},
    }
    # When the progress line is built / Then only the created one counts as processed
    line = demo.progress(status, {"a", "b", "c"})
    assert line == "  1/3 sign-ups processed; queued 1, in flight 1; created 1, deferred 1"


def test_what_to_try_next_names_make_targets_that_exist_and_a_real_capture():
    # Given the Makefile's targets / Then every make command the demo suggests is one, and its FILE exists
    targets = set(re.findall(r"^([a-z0-9-]+):", (ROOT / "Makefile").read_text(), re.M))
    commands = [line.split("#")[0].strip() for line in demo.NEXT_STEPS.splitlines() if line.strip().startswith("make")]
    assert {shlex.split(c)[1] for c in commands} == {"dev", "preview", "send", "recent"}
    assert {shlex.split(c)[1] for c in commands} <= targets
    assert (ROOT / demo.CAPTURE).is_file()
    assert "/_local/contacts?email=" in demo.NEXT_STEPS and "/_local/dlq" in demo.NEXT_STEPS

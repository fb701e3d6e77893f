"""The sample events local/events writes: the committed files are what its scenarios build, and meet the demo."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

from local.events.__main__ import main as events_main
from local.events.build import GENERATED_AT, build_event, demo_secrets, event_body
from local.events.paths import EVENTS_DIR, EXPECTED_FILE, ROOT, SEED_FILE
from local.events.scenarios import SCENARIOS
from local.events.seed import SANDBOX_SEED
from local.sandbox_seed import DEMO_SEED_FILE, load_seed
from tests.conftest import load_event

EXPECTED = {scenario.file: scenario.expected for scenario in SCENARIOS}


def test_the_committed_events_are_what_the_scenarios_build():
    # Given the scenarios, the demo secrets and the fixed generation time
    secrets = demo_secrets()

    # When each scenario's event is built
    built = {scenario.file: build_event(scenario, secrets, GENERATED_AT) for scenario in SCENARIOS}

    # Then it is the committed events/ file, with its expected status and outcome, next to the committed seed
    for name, event in built.items():
        assert json.loads((EVENTS_DIR / name).read_text()) == event, name
    expected = json.loads(EXPECTED_FILE.read_text())
    assert {name: expected[name] for name in EXPECTED} == EXPECTED
    assert json.loads(SEED_FILE.read_text()) == SANDBOX_SEED


def test_every_seeded_contact_is_met_by_a_demo_sample():
    # Given the demo account and the generic samples written with it (local/events/seed.py)
    seeded = {contact["email"] for contact in load_seed(DEMO_SEED_FILE).contacts}
    bodies = {name: event_body(load_event(name)).decode() for name in EXPECTED}

    # Then each seeded contact is the subject of some sample, so the demo shows what happens to it
    for email in seeded:
        assert any(email in body for body in bodies.values()), email


def test_the_events_package_does_not_import_signup_relay():
    # Given a fresh interpreter (this one has signup_relay loaded already)
    code = "import sys, local.events.__main__; print(sorted(m for m in sys.modules if m.startswith('signup_relay')))"

    # When the whole package is imported
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )

    # Then signup_relay was not loaded: its signers stay an independent check of signup_relay's verifiers
    assert result.stdout.strip() == "[]"


def test_make_events_writes_samples_signed_now_and_leaves_events_untouched(tmp_path):
    # Given the committed Webflow sample, signed at the fixed generation time
    committed = (EVENTS_DIR / "webflow_signup.json").read_bytes()
    stale = int(json.loads(committed)["headers"]["x-webflow-timestamp"]) // 1000
    # When the fresh copies are written
    events_main(["--fresh", str(tmp_path)])
    # Then every sample is there, the time-windowed one carries a current timestamp, and events/ is unchanged
    assert {p.name for p in tmp_path.glob("*.json")} == {
        p.name for p in EVENTS_DIR.glob("*.json") if p.name not in ("expected.json", "sandbox_seed.json")
    }
    fresh = int(json.loads((tmp_path / "webflow_signup.json").read_text())["headers"]["x-webflow-timestamp"]) // 1000
    assert stale == GENERATED_AT and abs(fresh - time.time()) < 60
    assert (EVENTS_DIR / "webflow_signup.json").read_bytes() == committed

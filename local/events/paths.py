"""Where the sample events, the payloads they are built from and the demo secrets live."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EVENTS_DIR = ROOT / "events"
EXPECTED_FILE = EVENTS_DIR / "expected.json"
SEED_FILE = EVENTS_DIR / "sandbox_seed.json"
DEMO_SECRETS_FILE = ROOT / "local" / "demo_secrets.json"
PAYLOADS_DIR = Path(__file__).resolve().parent / "payloads"
REAL_FIXTURES = ROOT / "tests" / "fixtures" / "real"

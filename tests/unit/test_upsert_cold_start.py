"""UpsertFunction's cold start loads the V2 client and policy only when a V2 account's sign-up needs them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
V2_MODULES = ("signup_relay.constant_contact.v2_client", "signup_relay.upsert.v2_policy")
PROBE = f"""
import sys
import functions.upsert.app
print(sorted(name for name in {V2_MODULES!r} if name in sys.modules))
from signup_relay.upsert import wiring
wiring._v2_upserter.__wrapped__("a-v2-secret", wiring.get_settings())
print(sorted(name for name in {V2_MODULES!r} if name in sys.modules))
"""


def test_the_upsert_handler_loads_the_v2_modules_only_for_a_v2_account() -> None:
    # Given a fresh interpreter (this one has loaded everything already)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "layers" / "relay"), str(ROOT)])}
    env.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    # When the handler module is imported, then a V2 account's upserter is wired
    result = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=60)
    # Then neither is loaded by the import; the wiring loads the V2 client (the policy waits for a sign-up)
    assert result.returncode == 0, result.stderr
    before, after = result.stdout.splitlines()
    assert before == "[]"
    assert after == "['signup_relay.constant_contact.v2_client']"

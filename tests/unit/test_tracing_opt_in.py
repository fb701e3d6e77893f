"""The X-Ray SDK (Powertools Tracer) is loaded only when the operator asks for detailed tracing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import sys
import functions.upsert.app, functions.token_refresh.app
from signup_relay.observability import traced
calls = []
probe = traced(lambda: calls.append(1) or "done")
assert probe() == "done" and calls == [1]
print("xray" if any(name.startswith("aws_xray_sdk") for name in sys.modules) else "no-xray")
"""


def _run(detailed_tracing: str | None) -> str:
    env = {k: v for k, v in os.environ.items() if k != "DETAILED_TRACING"}
    if detailed_tracing is not None:
        env["DETAILED_TRACING"] = detailed_tracing
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "layers" / "relay"), str(ROOT)])
    env["POWERTOOLS_TRACE_DISABLED"] = "true"  # no X-Ray daemon here: the Tracer wraps but sends nothing
    result = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_by_default_the_handlers_run_without_the_xray_sdk():
    assert _run(None) == "no-xray"
    assert _run("false") == "no-xray"


def test_detailed_tracing_wraps_with_the_powertools_tracer():
    assert _run("true") == "xray"

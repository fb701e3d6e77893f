"""The Constant Contact V3 sandbox: a real HTTP server on 127.0.0.1 that behaves like the real API (never deployed).

Its rules, each with its source in Constant Contact's public documentation (or marked as a stricter choice where
the docs are silent), its endpoints and its layout are in local/README.md. CLI: `python -m local.cc_sandbox`.
"""

from local.cc_sandbox.clock import SandboxClock
from local.cc_sandbox.oauth import pkce_challenge
from local.cc_sandbox.server import Sandbox

__all__ = ["Sandbox", "SandboxClock", "pkce_challenge"]

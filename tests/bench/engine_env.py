"""The process environment the engine benchmarks run the real engine in: the sandbox as Constant Contact, pacing off.

Plain `os.environ` (no pytest `monkeypatch` here): `make bench` runs the benchmarks as a script.
"""

from __future__ import annotations

import os

from local.aws_resources import reset_relay_caches
from local.cc_sandbox import Sandbox


def point_engine_env(sandbox: Sandbox, secret_id: str, *, v2: bool = False) -> None:
    """Point the engine at the sandbox (V3, and V2 if asked) under `secret_id`, with pacing off, fake AWS credentials
    for moto, no token refresher function (tokens are refreshed in process), and nothing cached from before."""
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        os.environ.setdefault(key, "bench")
    os.environ.update(
        {
            "CC_API_BASE_URL": sandbox.base_url,
            "CC_TOKEN_URL": sandbox.token_url,
            "CC_SECRET_ID": secret_id,
            "CC_RATE_LIMIT_PER_SECOND": "0",
            "SECRET_MAX_AGE_SECONDS": "3600",
        }
    )
    if v2:
        os.environ["CC_V2_API_BASE_URL"] = sandbox.v2_base_url
    os.environ.pop("TOKEN_REFRESH_FUNCTION", None)
    reset_relay_caches()

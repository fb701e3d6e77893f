"""The Constant Contact sandbox as pytest fixtures: a real HTTP server on 127.0.0.1, fresh per test.

Each sandbox serves V3 (`base_url`, OAuth client and tokens) and V2 (`v2_base_url`, `v2_api_key`,
`v2_access_token`) over the same account; `v2_session(sandbox)` is a requests session that sends both V2 credentials.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import requests

from local.aws_resources import reset_relay_caches
from local.cc_sandbox import Sandbox


def v2_session(sandbox: Sandbox, access_token: str | None = None, api_key: str | None = None) -> requests.Session:
    """A session for the sandbox's V2 API: `?api_key=` on every call and the V2 Bearer token."""
    session = requests.Session()
    session.params = {"api_key": api_key or sandbox.v2_api_key}
    session.headers["Authorization"] = f"Bearer {access_token or sandbox.v2_access_token}"
    return session


def point_engine_at(
    sandbox: Sandbox,
    env: pytest.MonkeyPatch,
    secret_id: str,
    *,
    v2: bool = False,
    rate_limit_per_second: float | None = None,
) -> None:
    """Point the engine's settings at the sandbox (V3, and V2 if asked) under `secret_id`, with no token refresher
    function (tokens are refreshed in process), and forget whatever was cached from the environment before."""
    env.setenv("CC_API_BASE_URL", sandbox.base_url)
    if v2:
        env.setenv("CC_V2_API_BASE_URL", sandbox.v2_base_url)
    env.setenv("CC_TOKEN_URL", sandbox.token_url)
    env.setenv("CC_SECRET_ID", secret_id)
    if rate_limit_per_second is not None:
        env.setenv("CC_RATE_LIMIT_PER_SECOND", str(rate_limit_per_second))
    env.delenv("TOKEN_REFRESH_FUNCTION", raising=False)
    reset_relay_caches()


@contextmanager
def sandbox_cli(*args: str, env: dict[str, str] | None = None) -> Iterator[dict[str, Any]]:
    """`python -m local.cc_sandbox --port 0 *args` as a child process; yields the JSON it prints on start."""
    process = subprocess.Popen(
        [sys.executable, "-m", "local.cc_sandbox", "--port", "0", *args],
        stdout=subprocess.PIPE,
        text=True,
        env=os.environ | (env or {}),
    )
    try:
        assert process.stdout is not None
        lines = []
        for line in process.stdout:
            lines.append(line)
            if line.rstrip() == "}":
                break
        yield json.loads("".join(lines))
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def cc_sandbox() -> Iterator[Sandbox]:
    """A fresh sandbox with the real limits (4 requests/s, 10,000/day, 24 h tokens, rotating refresh)."""
    with Sandbox() as sandbox:
        yield sandbox


@pytest.fixture
def cc_sandbox_unthrottled() -> Iterator[Sandbox]:
    """A fresh sandbox without the per-second limit (V3 and V2), for tests about something else than pacing."""
    with Sandbox(rate_limit_per_second=0) as sandbox:
        yield sandbox

"""The Constant Contact sandbox as pytest fixtures: a real HTTP server on 127.0.0.1, fresh per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from local.cc_sandbox import Sandbox


@pytest.fixture
def cc_sandbox() -> Iterator[Sandbox]:
    """A fresh sandbox with the real limits (4 requests/s, 10,000/day, 24 h tokens, rotating refresh)."""
    with Sandbox() as sandbox:
        yield sandbox


@pytest.fixture
def cc_sandbox_unthrottled() -> Iterator[Sandbox]:
    """A fresh sandbox without the per-second limit, for tests about something else than pacing."""
    with Sandbox(rate_limit_per_second=0) as sandbox:
        yield sandbox

"""Helpers for tests that drive the local stack."""

from __future__ import annotations

import time

import pytest

from local.stack import LocalStack


def wait_until_drained(stack: LocalStack, limit_seconds: float = 60) -> None:
    """Until the stack's queue is empty and nothing is in flight; fails the test after `limit_seconds`."""
    deadline = time.monotonic() + limit_seconds
    while not stack.drained():
        if time.monotonic() > deadline:
            pytest.fail("the local stack did not drain its queue")
        time.sleep(0.2)

"""The local stack for tests/local: one per test (`stack`) or one shared by a module (`shared_stack`)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from local.stack import LocalStack


@pytest.fixture
def stack() -> Iterator[LocalStack]:
    # The embedded sandbox, whatever CC_* the developer has exported.
    with LocalStack(port=0, constant_contact_env={}) as running:
        yield running


@pytest.fixture(scope="module")
def shared_stack() -> Iterator[LocalStack]:
    with LocalStack(port=0, constant_contact_env={}) as running:
        yield running

"""A local stack shared by a module's tests (it takes a few seconds to start)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from local.stack import LocalStack


@pytest.fixture(scope="module")
def shared_stack() -> Iterator[LocalStack]:
    # The embedded sandbox, whatever CC_* the developer has exported.
    with LocalStack(port=0, constant_contact_env={}) as running:
        yield running

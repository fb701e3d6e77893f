"""The local stack end to end over real HTTP: webhook in, contact out in the embedded sandbox."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator

import pytest

from local.demo import send
from local.stack import LocalStack
from tests.conftest import load_event


@pytest.fixture
def stack() -> Iterator[LocalStack]:
    # The embedded sandbox, whatever CC_* the developer has exported.
    with LocalStack(port=0, constant_contact_env={}) as running:
        yield running


def wait_until_drained(stack: LocalStack, limit_seconds: float = 60) -> None:
    deadline = time.monotonic() + limit_seconds
    while not stack.drained():
        if time.monotonic() > deadline:
            pytest.fail("the local stack did not drain its queue")
        time.sleep(0.2)


def test_webhook_through_the_local_stack_creates_the_contact(stack: LocalStack):
    # Given the stack serving template.yaml's routes on a free port
    event = load_event("generic_signup.json")

    # When a sender posts the Zapier sample over HTTP and the poller drains the queue
    status, body = send(stack.url, event)
    wait_until_drained(stack)

    # Then the sender got 200 with its id, the status page reports the outcome, and the sandbox has the contact
    assert (status, body) == (200, {"accepted": True, "id": "generic:zap-run-6f1d2c0a-0001"})
    with urllib.request.urlopen(f"{stack.url}/_local/status") as response:
        page = json.loads(response.read())
    result = page["results"]["generic:zap-run-6f1d2c0a-0001"]
    contact = stack.sandbox.contact_by_email("ada.lovelace@example.com")
    assert result["outcome"] == "created"
    assert result["contact_id"] == contact["contact_id"]
    assert page["queue"]["visible"] == page["queue"]["in_flight"] == 0
    assert page["dlq"]["records"] == []

"""Opt-in end-to-end tests against a DEPLOYED stack: `make test-e2e`, never part of `make test`.

Needs AWS credentials for the stack's account (the shell's own: tests/conftest.py fakes them for every other test,
these put the real ones back) and:
  AWS_SAM_STACK_NAME  the deployed stack (its Outputs give the webhook URL and the queue URLs); unset = skipped
  E2E_ROUTE           a route of the deployed routes file with `source: generic` [generic]
  E2E_ROUTE_TOKEN     that route's token (its key in the webhook secret)
  E2E_EMAIL_DOMAIN    domain of the unique test address [example.com]
  E2E_TIMEOUT         seconds to wait for the sign-up to leave the queue [180; at most 800]
The sign-up creates (or updates) one contact `signup-relay-e2e+<random>@<domain>` in the connected Constant Contact
account; delete it there afterwards if you like.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.conftest import REAL_AWS_ENVIRONMENT, REAL_AWS_VARIABLES

pytestmark = pytest.mark.e2e

STACK_ENV = "AWS_SAM_STACK_NAME"
POLL_SECONDS = 5.0
IDLE_READINGS = 3  # SQS counts are approximate: the queue must read empty this many polls in a row


@dataclass(frozen=True)
class DeployedStack:
    name: str
    webhook_base_url: str  # ends with /hooks/
    queue_url: str
    dlq_url: str
    route: str
    token: str
    sqs: Any


def stack_outputs(cloudformation: Any, stack_name: str) -> dict[str, str]:
    [stack] = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    return {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs", [])}


@pytest.fixture(scope="module")
def deployed_stack() -> Iterator[DeployedStack]:
    """The stack named by AWS_SAM_STACK_NAME, read with the shell's real AWS credentials; skipped when unset."""
    stack_name = os.environ.get(STACK_ENV, "").strip()
    if not stack_name:
        pytest.skip(f"{STACK_ENV} is not set: the e2e tests run against a deployed stack only")
    token = os.environ.get("E2E_ROUTE_TOKEN", "").strip()
    if not token:
        pytest.fail("E2E_ROUTE_TOKEN is not set: the token of E2E_ROUTE (a generic route) is needed to post")
    with pytest.MonkeyPatch.context() as patch:
        for name in REAL_AWS_VARIABLES:
            if name in REAL_AWS_ENVIRONMENT:
                patch.setenv(name, REAL_AWS_ENVIRONMENT[name])
            else:
                patch.delenv(name, raising=False)
        import boto3

        session = boto3.session.Session()
        outputs = stack_outputs(session.client("cloudformation"), stack_name)
        missing = {"WebhookBaseUrl", "SignupQueueUrl", "DeadLetterQueueUrl"} - set(outputs)
        assert not missing, f"stack {stack_name} has no output(s) {sorted(missing)}"
        yield DeployedStack(
            name=stack_name,
            webhook_base_url=outputs["WebhookBaseUrl"].rstrip("/") + "/",
            queue_url=outputs["SignupQueueUrl"],
            dlq_url=outputs["DeadLetterQueueUrl"],
            route=os.environ.get("E2E_ROUTE", "").strip() or "generic",
            token=token,
            sqs=session.client("sqs"),
        )


def post_signup(stack: DeployedStack, body: dict[str, str], *, token: str) -> tuple[int, dict[str, Any]]:
    import requests

    response = requests.post(
        stack.webhook_base_url + stack.route,
        data=json.dumps(body),
        headers={"content-type": "application/json", "x-signup-relay-token": token, "user-agent": "signup-relay-e2e"},
        timeout=30,
    )
    try:
        return response.status_code, response.json()
    except ValueError:
        return response.status_code, {"raw": response.text[:200]}


def queue_depth(stack: DeployedStack) -> int:
    attributes = stack.sqs.get_queue_attributes(
        QueueUrl=stack.queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])


def wait_until_drained(stack: DeployedStack, timeout: float) -> bool:
    """True once the signup queue has read empty IDLE_READINGS polls in a row, within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    idle = 0
    while time.monotonic() < deadline:
        idle = idle + 1 if queue_depth(stack) == 0 else 0
        if idle >= IDLE_READINGS:
            return True
        time.sleep(POLL_SECONDS)
    return False


def dead_letters(stack: DeployedStack) -> list[dict[str, Any]]:
    """Every DLQ record decoded (FailureRecord JSON, or a redriven QueuedSignup), left in the DLQ."""
    from signup_relay.aws.dead_letter_reader import DeadLetterReader

    reader = DeadLetterReader(url=stack.dlq_url, client=stack.sqs, visibility_timeout=30, wait_seconds=1)
    held = []
    while batch := reader.receive():
        held.extend(batch)
    reader.release(held)
    records = []
    for letter in held:
        try:
            records.append(json.loads(letter.body))
        except ValueError:
            records.append({"undecodable": letter.body[:200]})
    return records


@pytest.mark.timeout(900)  # E2E_TIMEOUT (the queue wait) must stay well under this
def test_a_generic_signup_is_accepted_and_leaves_the_queue_without_a_dead_letter(deployed_stack: DeployedStack):
    # Given a unique address, so this run's sign-up is told apart from any other
    stack = deployed_stack
    domain = os.environ.get("E2E_EMAIL_DOMAIN", "").strip() or "example.com"
    email = f"signup-relay-e2e+{uuid.uuid4().hex[:12]}@{domain}"
    timeout = float(os.environ.get("E2E_TIMEOUT", "").strip() or 180)

    # When a generic sender posts it to the deployed API with the route token
    status, answer = post_signup(stack, {"email": email, "first_name": "End", "last_name": "To-End"}, token=stack.token)

    # Then receive accepts it with its queued id (docs/architecture.md §3) ...
    assert status == 200, answer
    assert answer.get("accepted") is True and answer.get("id"), answer
    queued_id = answer["id"]

    # ... the upsert side takes it off the queue within the bound ...
    assert wait_until_drained(stack, timeout), f"{stack.name}: the signup queue still holds messages after {timeout}s"

    # ... and it did not end in the dead-letter queue (neither a rejected record nor a redriven message)
    failed = [r for r in dead_letters(stack) if queued_id in (r.get("queued_id"), r.get("id"))]
    assert not failed, [(r.get("stage"), r.get("error_class"), r.get("message")) for r in failed]


def test_a_wrong_token_is_refused_and_nothing_is_queued(deployed_stack: DeployedStack):
    # Given the route and a token that is not its secret
    stack = deployed_stack
    email = f"signup-relay-e2e+{uuid.uuid4().hex[:12]}@example.com"

    # When a sign-up is posted with it
    status, answer = post_signup(stack, {"email": email}, token="not-the-route-token-" + uuid.uuid4().hex)

    # Then it is refused with 401 and no id (nothing stored, docs/architecture.md §3)
    assert status == 401, answer
    assert "id" not in answer and answer.get("error"), answer

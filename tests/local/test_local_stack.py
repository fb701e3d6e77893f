"""The local stack end to end over real HTTP: webhook in, contact out in the embedded sandbox."""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request

import boto3
import pytest

from local.demo import send
from local.stack import LocalStack
from signup_relay.tokens.refreshers import LocalRefresher
from signup_relay.upsert import wiring as engine
from tests.conftest import load_event
from tests.local.stack_support import wait_until_drained
from tests.oauth_secret import seed_oauth_secret


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


def test_a_delivery_sent_again_after_it_was_upserted_is_answered_from_the_delivery_table(stack: LocalStack):
    # Given the stack's moto holds the template's delivery table, and a sign-up went all the way to the sandbox
    table = boto3.client("dynamodb").describe_table(TableName=stack.resources.delivery_table)["Table"]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    event = load_event("generic_signup.json")
    first = send(stack.url, event)
    wait_until_drained(stack)

    # When the sender delivers it again once its queue message is gone (SQS alone would queue it again)
    second = send(stack.url, event)
    wait_until_drained(stack)

    # Then the answer is the same and it was not upserted a second time
    assert first == second == (200, {"accepted": True, "id": "generic:zap-run-6f1d2c0a-0001"})
    assert stack.status()["outcomes"] == {"created": 1}


def test_tokens_are_refreshed_in_process_by_the_single_writer_on_a_schedule(monkeypatch: pytest.MonkeyPatch):
    # Given a shell that exports TOKEN_REFRESH_FUNCTION, and a stack whose scheduled check runs every 0.2 s
    monkeypatch.setenv("TOKEN_REFRESH_FUNCTION", "signup-relay-TokenRefreshFunction")
    with LocalStack(port=0, constant_contact_env={}, token_refresh_interval=0.2) as stack:
        # Then upsert refreshes through the in-process single writer: there is no function to invoke
        assert "TOKEN_REFRESH_FUNCTION" not in os.environ
        assert isinstance(engine.get_refresher(), LocalRefresher)
        # When the stored access token comes within the refresh margin of its expiry
        due = seed_oauth_secret(stack.sandbox, stack.resources.cc_secret_id, expires_in=60)
        # Then the scheduled check refreshes it once, with no sign-up asking. Wait for the stored secret, not the
        # sandbox's count: the token endpoint answers before the writer has promoted the new pair.
        secrets = boto3.client("secretsmanager")
        deadline = time.monotonic() + 30
        while True:
            stored = json.loads(secrets.get_secret_value(SecretId=stack.resources.cc_secret_id)["SecretString"])
            if stored["access_token"] != due["access_token"]:
                break
            if time.monotonic() > deadline:
                pytest.fail("the scheduled token refresh did not store a new pair")
            time.sleep(0.1)
        assert stored["expires_at"] > due["expires_at"]
        assert stack.sandbox.refresh_count == 1 and stack.sandbox.invalid_grant_count == 0


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ({"id": 5}, "id must be"),
        ({"id": ["a", 2]}, "id must be"),
        ({"route": ["generic"]}, "route must be a string"),
        ({"route": "generic", "dry_run": "no"}, "dry_run must be true or false"),
        ({"route": "generic", "force": True}, "unknown key(s) 'force'"),
    ],
)
def test_a_bad_dlq_replay_body_is_a_400_naming_it_and_replays_nothing(
    shared_stack: LocalStack, body: dict, problem: str
):
    # Given a delivery the generic route refused into the DLQ
    status, _ = send(shared_stack.url, load_event("generic_missing_email.json"))
    assert status == 422
    before = shared_stack.dlq_messages()
    assert before

    # When a replay is asked for with a body that is not what the endpoint takes
    request = urllib.request.Request(
        f"{shared_stack.url}/_local/dlq/replay", data=json.dumps(body).encode(), method="POST"
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request)

    # Then it answers 400 naming the problem, and the DLQ is as it was
    assert refused.value.code == 400
    assert problem in json.loads(refused.value.read())["error"]
    assert shared_stack.dlq_messages() == before


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("POST", "/_local/status", 405),
        ("DELETE", "/_local/dlq", 405),
        ("GET", "/_local/preview/generic", 405),
        ("GET", "/_local/contactsX", 404),
        ("GET", "/_local/statusX", 404),
    ],
)
def test_local_endpoints_answer_a_wrong_method_405_and_a_near_miss_path_404(
    shared_stack: LocalStack, method: str, path: str, status: int
):
    request = urllib.request.Request(f"{shared_stack.url}{path}", data=b"" if method != "GET" else None, method=method)
    with pytest.raises(urllib.error.HTTPError) as answered:
        urllib.request.urlopen(request)
    assert answered.value.code == status
    assert answered.value.headers["content-type"] == "application/json"
    assert set(json.loads(answered.value.read())) == {"message"}

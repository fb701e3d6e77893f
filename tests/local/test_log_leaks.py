"""Nothing secret or personal reaches the logs: every events/ sample through the local stack, every log line scanned.

The local stack runs the real handlers in this process, so their Powertools logs (and anything else printed) are
captured here. The scan looks for every webhook secret, the Constant Contact client secret and tokens, and every
email address the samples carry, as sent and URL-encoded.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterator
from urllib.parse import quote, unquote_plus

import boto3
import pytest

from local.demo import send
from local.events.build import demo_secrets, event_body
from local.events.paths import EVENTS_DIR
from local.stack import LocalStack
from signup_relay.observability import logger
from tests.conftest import load_event
from tests.local.stack_support import wait_until_drained

ADDRESS = re.compile(r"[^\s\"'<>&=:;,/\\()\[\]{}]+@[^\s\"'<>&=:;,/\\()\[\]{}]+\.[A-Za-z]{2,}")


def _samples() -> list[str]:
    return sorted(p.name for p in EVENTS_DIR.glob("*.json") if p.name not in ("expected.json", "sandbox_seed.json"))


@pytest.fixture
def logs_to_this_test(capfd: pytest.CaptureFixture[str]) -> Iterator[pytest.CaptureFixture[str]]:
    """The product's log handlers write to this test's captured stdout (an earlier test may have left them
    holding another stream); their formatter, the one every line goes through, is unchanged."""
    handlers = [h for h in logger.handlers if isinstance(h, logging.StreamHandler)]
    previous = [h.stream for h in handlers]
    for handler in handlers:
        handler.stream = sys.stdout  # not setStream: it would flush a stream an earlier capture has closed
    yield capfd
    for handler, stream in zip(handlers, previous, strict=True):
        handler.stream = stream


def test_no_secret_token_or_email_reaches_the_logs(logs_to_this_test: pytest.CaptureFixture[str]):
    # Given the local stack, and every sample delivery (signed, token-authenticated, refused and accepted ones)
    emails: set[str] = set()
    with LocalStack(port=0, constant_contact_env={}) as stack:
        for name in _samples():
            event = load_event(name)
            emails |= {m.group(0) for m in ADDRESS.finditer(unquote_plus(event_body(event).decode("utf-8", "replace")))}
            emails |= {m.group(0) for m in ADDRESS.finditer(unquote_plus(event.get("rawQueryString") or ""))}
            # When each is delivered over HTTP
            send(stack.url, event)
        wait_until_drained(stack, limit_seconds=120)
        cc_secret = json.loads(
            boto3.client("secretsmanager").get_secret_value(SecretId="signup-relay/constant-contact")["SecretString"]
        )
        outcomes = stack.status()["results"]
    logs = "".join(logs_to_this_test.readouterr())

    # Then the run did happen (contacts were written, lines were logged) ...
    assert any(result.get("outcome") == "created" for result in outcomes.values())
    assert "sign-up upserted" in logs and "delivery refused" in logs
    # ... and no secret, token or address is in any line, as is or URL-encoded
    secrets = {v for v in demo_secrets().values() if len(v) >= 8}
    secrets |= {cc_secret["client_secret"], cc_secret["access_token"], cc_secret["refresh_token"]}
    assert emails and secrets
    for value in sorted(secrets | emails):
        for form in {value, value.lower(), quote(value, safe=""), quote(value.lower(), safe="")}:
            assert form not in logs, f"{value[:3]}... reached the logs"

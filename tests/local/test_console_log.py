"""`make dev`'s console lines: a real delivery through the local stack, read as an operator reads it."""

from __future__ import annotations

import io
import logging
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from local import console_log
from local.demo import send
from local.stack import LocalStack
from signup_relay.observability import logger
from tests.conftest import load_event
from tests.local.stack_support import wait_until_drained

RAW_EMAIL = "ada.lovelace@example.com"  # the address in events/generic_signup.json


@dataclass
class Console:
    logs: io.StringIO  # what the service's log handler wrote
    capfd: pytest.CaptureFixture[str]  # everything else printed (metric blobs go there without the filter)


@pytest.fixture
def console(capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Iterator[Console]:
    """The service's log lines into a buffer; the formatter and sys.stdout the test's install() changes are restored
    after (installed by the test itself: pytest swaps sys.stdout between setup and call)."""
    monkeypatch.delenv(console_log.FORMAT_ENV, raising=False)
    handler = logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    previous = handler.formatter, handler.stream, sys.stdout
    handler.stream = io.StringIO()  # not setStream: it would flush a stream an earlier capture has closed
    yield Console(logs=handler.stream, capfd=capfd)
    handler.setFormatter(previous[0])
    handler.stream = previous[1]
    sys.stdout = previous[2]


def test_a_delivery_prints_readable_lines_with_the_masked_email_and_no_metric_blob(console: Console):
    # Given the local stack with the console format `make dev` installs, and a Zapier-style sign-up
    assert console_log.install()
    with LocalStack(port=0, constant_contact_env={}) as stack:
        # When it is delivered over HTTP and upserted
        status, body = send(stack.url, load_event("generic_signup.json"))
        wait_until_drained(stack)
        # (the status page still reads the outcome off the same records)
        outcome = stack.status()["results"][body["id"]]["outcome"]
    out = console.logs.getvalue()
    printed = console.capfd.readouterr()

    # Then one line per record says when, how bad, which function, what, and the keys that matter
    assert (status, outcome) == (200, "created")
    queued = re.search(r"^\d\d:\d\d:\d\d\.\d{3}  INFO +ReceiveFunction +sign-up queued  (.*)$", out, re.M)
    upserted = re.search(r"^\d\d:\d\d:\d\d\.\d{3}  INFO +UpsertFunction +sign-up upserted  (.*)$", out, re.M)
    assert queued and upserted, out
    assert "route=generic" in queued[1] and "email=a***@example.com" in queued[1]
    keys = r"route=generic  outcome=created  email=a\*\*\*@example\.com  contact_id=\S+  attempts=1"
    assert re.search(keys, upserted[1]), upserted[1]
    # ... never the raw address, no JSON record, and no EMF metric blob printed
    assert RAW_EMAIL not in (out + printed.out + printed.err).lower()
    assert not re.search(r"^\{", out, re.M)
    assert '"_aws"' not in printed.out


def test_json_stays_when_asked(monkeypatch: pytest.MonkeyPatch):
    # Given LOCAL_LOG_FORMAT=json / When the console is installed / Then the deployed formatter is kept
    monkeypatch.setenv(console_log.FORMAT_ENV, "json")
    before = logger.registered_handler.formatter
    assert console_log.install() is False
    assert logger.registered_handler.formatter is before

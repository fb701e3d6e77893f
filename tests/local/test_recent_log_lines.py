"""`make recent`'s query reads fields the functions really log: real deliveries through the local stack, their JSON
log records captured as CloudWatch would get them, selected and projected as the query does, then tabled."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from local.demo import send
from local.stack import LocalStack
from signup_relay.observability import logger
from signup_relay.ops import recent
from tests.conftest import load_event
from tests.local.stack_support import wait_until_drained

DELIVERIES = {
    "generic_signup.json": "created",
    "generic_missing_email.json": "refused 422",
    "generic_bad_token.json": "refused 401",
    "generic_list_not_in_account.json": "rejected",
}


@pytest.fixture
def json_records() -> Iterator[io.StringIO]:
    """The service's log lines, in the deployed JSON format, into a buffer."""
    handler = logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    previous = handler.stream
    handler.stream = io.StringIO()  # not setStream: it would flush a stream an earlier capture has closed
    yield handler.stream
    handler.stream = previous


def as_insights_rows(records: list[dict[str, Any]]) -> list[list[dict[str, str]]]:
    """What Logs Insights answers for recent.QUERY over these records: the filter, the `fields` projection (a field a
    record lacks is left out of its row), string values, newest first."""
    selected = [r for r in records if "outcome" in r or r.get("message") == recent.REFUSED_MESSAGE]
    rows = []
    for record in reversed(selected):
        row = [{"field": "@timestamp", "value": str(record["timestamp"])}]
        row += [{"field": name, "value": str(record[name])} for name in recent.FIELDS if name in record]
        rows.append(row)
    return rows


def test_the_query_reads_the_fields_of_real_log_records(json_records: io.StringIO):
    # Given the local stack (the real handlers, the deployed JSON log format)
    with LocalStack(port=0, constant_contact_env={}) as stack:
        # When a sign-up, a delivery without an email, a wrong token and a list the account lacks are delivered
        answers = {name: send(stack.url, load_event(name))[0] for name in DELIVERIES}
        wait_until_drained(stack)
    records = [json.loads(line) for line in json_records.getvalue().splitlines() if line.startswith("{")]
    assert answers == {
        "generic_signup.json": 200,
        "generic_missing_email.json": 422,
        "generic_bad_token.json": 401,
        "generic_list_not_in_account.json": 200,
    }

    # Then the query's filter names messages and keys these records carry, and every field it reads is logged
    messages = {r["message"] for r in records}
    assert recent.REFUSED_MESSAGE in messages
    assert {"sign-up upserted", "sign-up dead-lettered"} <= {r["message"] for r in records if "outcome" in r}
    rows = as_insights_rows(records)
    read = {cell["field"] for row in rows for cell in row}
    assert read == {"@timestamp", *recent.FIELDS}
    assert f"fields @timestamp, {', '.join(recent.FIELDS)}\n" in recent.QUERY

    # ... and the CLI turns them into one line per delivery: outcome, route, masked email, reason
    signups = recent.signups_from_results(rows)
    by_outcome = {s.outcome: s for s in signups}
    assert sorted(by_outcome) == sorted(DELIVERIES.values())
    assert (by_outcome["created"].route, by_outcome["created"].email) == ("generic", "a***@example.com")
    assert (by_outcome["refused 422"].route, by_outcome["refused 401"].route) == ("generic", "generic")
    assert by_outcome["refused 401"].reason == "missing or wrong route token"
    rejected = by_outcome["rejected"]
    assert (rejected.route, rejected.email) == ("generic-existing-lists", "a***@example.com")
    assert rejected.reason.startswith("list(s) not found in Constant Contact")
    table = recent.format_table(signups)
    assert "ada.lovelace@example.com" not in table and "@example.com" in table

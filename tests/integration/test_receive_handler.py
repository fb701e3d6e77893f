"""The receive handler in-process: events/ files through API Gateway's payload v2 shape, moto SQS and Secrets."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import sys
from typing import Any

import pytest

from functions.receive import app
from local.aws_resources import LocalResources, peek_messages
from signup_relay.errors import SignatureError
from signup_relay.observability import logger
from tests.conftest import load_event
from tests.integration.relay_fixtures import FakeLambdaContext, dlq_records

TOKEN = "demo-generic-token-3f9a1c7e5b2d4f60"


def invoke(event: dict[str, Any], context: FakeLambdaContext) -> tuple[int, dict[str, Any]]:
    response = app.lambda_handler(event, context)
    return response["statusCode"], json.loads(response["body"])


def email_key(email: str) -> str:
    return hashlib.sha256(email.encode()).hexdigest()


def test_signup_is_queued_with_contact_group_and_delivery_id(relay_aws: LocalResources, lambda_context):
    # Given a Zapier delivery with an Idempotency-Key and the route token
    event = load_event("generic_signup.json")

    # When receive handles it
    status, body = invoke(event, lambda_context)

    # Then the sender gets 200 with the delivery id, and one FIFO message is queued for that contact
    assert (status, body) == (200, {"accepted": True, "id": "generic:zap-run-6f1d2c0a-0001"})
    [message] = peek_messages(relay_aws.queue_url)
    assert message["Attributes"]["MessageGroupId"] == email_key("ada.lovelace@example.com")
    assert message["Attributes"]["MessageDeduplicationId"] == "generic:zap-run-6f1d2c0a-0001"
    queued = json.loads(message["Body"])
    assert queued["id"] == "generic:zap-run-6f1d2c0a-0001"
    assert queued["signup"]["email"] == "ada.lovelace@example.com"
    assert queued["signup"]["route"] == "generic"
    assert queued["signup"]["consent"] == "explicit"
    assert dlq_records(relay_aws.dlq_url) == []


def test_redelivery_answers_the_same_id_and_is_not_queued_twice(relay_aws: LocalResources, lambda_context):
    # Given a delivery that was already accepted
    first = invoke(load_event("generic_signup.json"), lambda_context)

    # When the sender delivers it again (same Idempotency-Key)
    second = invoke(load_event("generic_signup_redelivered.json"), lambda_context)

    # Then both answers are 200 with the same id and the queue holds one message
    assert first == second == (200, {"accepted": True, "id": "generic:zap-run-6f1d2c0a-0001"})
    assert len(peek_messages(relay_aws.queue_url)) == 1


def test_base64_multipart_body_is_decoded_before_parsing(relay_aws: LocalResources, lambda_context):
    # Given a WordPress multipart delivery that API Gateway base64-encoded
    event = load_event("generic_multipart.json")
    assert event["isBase64Encoded"] is True

    # When receive handles it
    status, body = invoke(event, lambda_context)

    # Then it is accepted under the hash of the raw body (no delivery id) and the fields were read
    raw = base64.b64decode(event["body"])
    assert (status, body) == (200, {"accepted": True, "id": hashlib.sha256(raw).hexdigest()})
    [message] = peek_messages(relay_aws.queue_url)
    signup = json.loads(message["Body"])["signup"]
    assert (signup["email"], signup["first_name"], signup["last_name"]) == (
        "grace.hopper@example.org",
        "Grace",
        "Hopper",
    )


def test_token_in_the_query_string_authenticates(relay_aws: LocalResources, lambda_context):
    # Given an Apps Script delivery that can only put the token in the URL
    event = load_event("generic_token_in_query.json")

    # When receive handles it
    status, body = invoke(event, lambda_context)

    # Then it is accepted
    assert status == 200 and body["accepted"] is True
    assert len(peek_messages(relay_aws.queue_url)) == 1


@pytest.mark.parametrize(
    ("event_file", "status", "error_class"),
    [
        ("generic_missing_email.json", 422, "invalid_submission"),
        ("generic_wrong_content_type.json", 415, "unsupported_media_type"),
        ("generic_undecodable_body.json", 400, "undecodable_body"),
    ],
)
def test_authenticated_but_unusable_deliveries_are_kept_in_the_dlq(
    relay_aws: LocalResources, lambda_context, event_file: str, status: int, error_class: str
):
    # Given an authenticated delivery that cannot become a sign-up
    event = load_event(event_file)

    # When receive handles it
    answered, body = invoke(event, lambda_context)

    # Then the sender gets the status with the reason, nothing is queued, and the DLQ keeps it without the token
    assert answered == status
    assert body["error"] == error_class
    assert peek_messages(relay_aws.queue_url) == []
    [record] = dlq_records(relay_aws.dlq_url)
    assert (record["stage"], record["route"], record["error_class"]) == ("receive", "generic", error_class)
    assert base64.b64decode(record["body_base64"]).decode() == event["body"]
    assert record["headers"]["x-signup-relay-token"] == "[redacted]"
    assert TOKEN not in json.dumps(record)


def test_missing_email_answers_field_level_errors(relay_aws: LocalResources, lambda_context):
    # Given an authenticated delivery without any email field
    event = load_event("generic_missing_email.json")

    # When receive handles it
    status, body = invoke(event, lambda_context)

    # Then the 422 names the email field and the mapping key to set, lists the fields the form did send,
    # and the DLQ record carries the same field errors
    assert status == 422
    assert "email" in body["fields"] and "`fields.email`" in body["fields"]["email"]
    sent = json.loads(event["body"])
    assert body["found"] == [name for name in sent if name not in ("token", "_token", "api_key")]
    [record] = dlq_records(relay_aws.dlq_url)
    assert record["field_errors"] == body["fields"]


def test_an_unsupported_content_type_answers_the_accepted_ones(relay_aws: LocalResources, lambda_context):
    # Given an authenticated delivery in a content type the generic sender never uses
    status, body = invoke(load_event("generic_wrong_content_type.json"), lambda_context)
    # Then the 415 lists the content types this route takes
    assert status == 415
    assert body["accepted"] == [
        "application/json",
        "application/x-www-form-urlencoded",
        "multipart/form-data",
        "text/json",
        "text/plain",
    ]


def test_secret_echoed_in_the_body_is_redacted_in_the_dlq(relay_aws: LocalResources, lambda_context):
    # Given an unusable delivery whose body also carries the route token (some builders echo it)
    event = load_event("generic_missing_email.json")
    event["body"] = json.dumps({"first_name": "Nobody", "token": TOKEN})

    # When receive handles it
    status, _ = invoke(event, lambda_context)

    # Then the kept body has the token cut out
    assert status == 422
    [record] = dlq_records(relay_aws.dlq_url)
    kept = base64.b64decode(record["body_base64"]).decode()
    assert TOKEN not in kept and "[redacted]" in kept


@pytest.mark.parametrize("event_file", ["generic_bad_token.json", "generic_unknown_route.json"])
def test_unauthenticated_or_unrouted_deliveries_store_nothing(relay_aws: LocalResources, lambda_context, event_file):
    # Given a delivery with a wrong token, or for a route that does not exist
    event = load_event(event_file)

    # When receive handles it
    answered, body = invoke(event, lambda_context)

    # Then the sender gets 401 and nothing is queued or kept
    assert (answered, body["error"]) == (401, "unauthorized")
    assert peek_messages(relay_aws.queue_url) == []
    assert dlq_records(relay_aws.dlq_url) == []


def with_route(event: dict[str, Any], route: str) -> dict[str, Any]:
    path = f"/hooks/{route}"
    context = {**event["requestContext"], "http": {**event["requestContext"]["http"], "path": path}}
    return {**event, "rawPath": path, "pathParameters": {"route": route}, "requestContext": context}


class _Stdout:
    """Writes to whatever sys.stdout is at the time: capsys swaps it between a test's setup and call."""

    def write(self, text: str) -> int:
        return sys.stdout.write(text)

    def flush(self) -> None:
        sys.stdout.flush()


@pytest.fixture
def service_log(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
    """The service's log lines as dicts: Powertools Logger writes JSON lines to stdout, captured with capsys
    (metrics, also JSON lines on stdout, are left out)."""
    monkeypatch.setattr(logger.registered_handler, "stream", _Stdout())

    def read() -> list[dict[str, Any]]:
        lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
        return [line for line in lines if "level" in line]

    return read


@pytest.mark.parametrize(
    ("route", "why"),
    [
        ("no-such-form", "a name the routes file lacks"),
        ('a"b', "a segment the resolver's route pattern does not take"),
        ("x" * 2000, "a long name"),
    ],
)
def test_unknown_route_is_answered_exactly_like_a_wrong_token(
    relay_aws: LocalResources, lambda_context, service_log, route: str, why: str
):
    # Given a delivery with a wrong token on a route that exists, and the same delivery to a route that does not
    wrong_token = load_event("generic_bad_token.json")
    unknown = with_route(load_event("generic_signup.json"), route)

    # When receive handles both
    refused = app.lambda_handler(wrong_token, lambda_context)
    service_log()
    unrouted = app.lambda_handler(unknown, lambda_context)

    # Then both answers are the same 401, byte for byte: nothing tells that the route does not exist ...
    assert (
        (unrouted["statusCode"], unrouted["body"])
        == (refused["statusCode"], refused["body"])
        == (
            401,
            json.dumps({"error": "unauthorized", "detail": SignatureError.ANSWER}, separators=(",", ":")),
        )
    )
    # ... but the log does, at warning level, and nothing is stored
    logs = service_log()
    assert any(line["message"] == "unknown route" and line["level"] == "WARNING" for line in logs), why
    assert peek_messages(relay_aws.queue_url) == [] and dlq_records(relay_aws.dlq_url) == []


def test_oversized_body_answers_413_whether_the_route_exists_or_not(
    relay_aws: LocalResources, lambda_context, monkeypatch: pytest.MonkeyPatch
):
    # Given a size limit smaller than the delivery
    monkeypatch.setenv("MAX_BODY_BYTES", "64")

    # When the same delivery is sent to a route that exists and to one that does not
    known = invoke(load_event("generic_signup.json"), lambda_context)
    unknown = invoke(with_route(load_event("generic_signup.json"), "no-such-form"), lambda_context)

    # Then both get the same 413
    assert known == unknown
    assert known[0] == 413


def test_body_over_the_limit_is_refused_with_413(
    relay_aws: LocalResources, lambda_context, monkeypatch: pytest.MonkeyPatch
):
    # Given a size limit smaller than the delivery
    monkeypatch.setenv("MAX_BODY_BYTES", "64")

    # When receive handles it
    status, body = invoke(load_event("generic_signup.json"), lambda_context)

    # Then it answers 413 and queues nothing
    assert (status, body["error"]) == (413, "payload_too_large")
    assert peek_messages(relay_aws.queue_url) == []


def test_queue_unavailable_answers_503_so_the_sender_retries(
    relay_aws: LocalResources, lambda_context, monkeypatch: pytest.MonkeyPatch
):
    # Given a queue URL that does not exist (the queue is unavailable)
    monkeypatch.setenv("QUEUE_URL", relay_aws.queue_url.replace("signups", "missing"))

    # When receive handles a valid delivery
    status, body = invoke(load_event("generic_signup.json"), lambda_context)

    # Then the sender is told to retry
    assert (status, body["error"]) == (503, "queue_unavailable")


def test_logs_carry_neither_the_token_nor_the_raw_email(
    relay_aws: LocalResources, lambda_context, monkeypatch: pytest.MonkeyPatch
):
    # Given the service logger writing to a buffer, and deliveries with the token in a header, in the query
    # string, and a wrong one
    buffer = io.StringIO()
    monkeypatch.setattr(logger.registered_handler, "stream", buffer)
    events = ["generic_signup.json", "generic_token_in_query.json", "generic_bad_token.json"]

    # When receive handles them
    for name in events:
        invoke(load_event(name), lambda_context)

    # Then the logs mention the masked email, never the address or any token
    logs = buffer.getvalue()
    assert "a***@example.com" in logs
    assert "ada.lovelace@example.com" not in logs
    assert TOKEN not in logs and "not-the-token" not in logs


@pytest.mark.parametrize(
    ("field", "status"),
    [("content-type", 415), ("field name", 422)],
)
def test_refusals_quote_at_most_a_bounded_part_of_a_100_kb_value(
    relay_aws: LocalResources, lambda_context, field: str, status: int
):
    # Given an authenticated delivery whose refusal names a 100 KB value: its content type, or the name of the only
    # field that holds an address
    huge = "x" * 100_000
    event = load_event("generic_signup.json")
    if field == "content-type":
        event["headers"]["content-type"] = f"application/{huge}"
    else:
        event["body"] = json.dumps({f"email{huge}": "not-an-address@"})

    # When receive handles it
    response = app.lambda_handler(event, lambda_context)

    # Then the answer stays small, quoting the value's start with an ellipsis, and so does the DLQ record's reason
    assert response["statusCode"] == status
    assert len(response["body"]) < 1_000
    assert "xxx…" in json.dumps(json.loads(response["body"]), ensure_ascii=False)
    [record] = dlq_records(relay_aws.dlq_url)
    assert len(record["message"]) + len(json.dumps(record["field_errors"])) < 1_000


def test_refusal_logs_the_path_and_query_names_never_query_values(
    relay_aws: LocalResources, lambda_context, service_log
):
    # Given a delivery authenticated by ?token= that also carries an email and a name in its query string, and a
    # body that cannot be read
    event = load_event("generic_token_in_query.json")
    query = {"email": "ada@example.com", "name": "Ada Lovelace", "token": TOKEN}
    event["rawQueryString"] = "email=ada%40example.com&name=Ada%20Lovelace&token=" + TOKEN
    event["queryStringParameters"] = query
    event["body"] = "{not json"

    # When receive refuses it
    status, _ = invoke(event, lambda_context)

    # Then the refusal's log line names the path and the parameters, and no value appears in any log line
    assert status == 400
    logs = service_log()
    [refused] = [line for line in logs if line["message"] == "delivery refused"]
    assert refused["path"] == "/hooks/generic?email&name&token"
    written = json.dumps(logs)
    assert not any(value in written for value in ("example.com", "ada%40", "Lovelace", TOKEN))

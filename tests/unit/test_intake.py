"""intake: ids, redaction, and which receive failures are kept in the DLQ (fakes for queue, DLQ and source)."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime
from typing import Any

import pytest

from signup_relay.aws.queue import sqs_safe_id
from signup_relay.emails import contact_key
from signup_relay.errors import (
    PayloadTooLargeError,
    QueueUnavailableError,
    SignatureError,
    SubmissionInvalidError,
    UndecodableBodyError,
    UnknownRouteError,
    UnsupportedMediaTypeError,
)
from signup_relay.models import FailureRecord, QueuedSignup, RawRequest, Signup
from signup_relay.receive.intake import accept_webhook, redact_mapping, submission_id
from signup_relay.routes import Routes

NOW = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
ROUTES = Routes.model_validate(
    {
        "routes": {
            "generic": {"source": "generic", "secret": {"id": "signup-relay/webhooks/hooks"}, "consent": "implicit"}
        }
    }
)


class FakeQueue:
    def __init__(self, *, fail: bool = False) -> None:
        self.sent: list[dict[str, Any]] = []
        self.fail = fail

    def send(self, body: str, *, group_id: str, dedupe_id: str) -> str:
        if self.fail:
            raise QueueUnavailableError("down")
        self.sent.append({"body": body, "group_id": group_id, "dedupe_id": dedupe_id})
        return f"m-{len(self.sent)}"


class FakeDlq:
    def __init__(self, *, fail: bool = False) -> None:
        self.records: list[FailureRecord] = []
        self.fail = fail

    def send(self, record: FailureRecord, *, group_id: str, dedupe_id: str) -> str:
        if self.fail:
            raise QueueUnavailableError("down")
        self.records.append(record)
        return "d-1"


def source_returning(signup: Signup):
    def receive(route, request, *, secret, now):
        return signup

    return receive


def source_raising(error: Exception):
    def receive(route, request, *, secret, now):
        raise error

    return receive


def accept(request: RawRequest, receive, queue=None, dlq=None, route="generic", max_body_bytes=1024):
    return accept_webhook(
        route,
        request,
        routes=ROUTES,
        fetch_secret=lambda ref: "s3cret-token",
        queue=queue or FakeQueue(),
        dlq=dlq or FakeDlq(),
        max_body_bytes=max_body_bytes,
        clock=lambda: NOW,
        receive=receive,
    )


def test_contact_key_is_the_same_for_any_spelling_of_one_email():
    # Given one address written two ways / When keyed / Then one FIFO group
    assert contact_key(" Ada@Example.COM ") == contact_key("ada@example.com")
    assert contact_key("ada@example.com") == hashlib.sha256(b"ada@example.com").hexdigest()
    assert contact_key("ada@example.com") != contact_key("grace@example.com")


@pytest.mark.parametrize(
    ("delivery_id", "expected"),
    [
        ("typeform:evt_01HQ", "typeform:evt_01HQ"),
        ("id with spaces", hashlib.sha256(b"id with spaces").hexdigest()),
        ("é-unicode", hashlib.sha256("é-unicode".encode()).hexdigest()),
        ("x" * 129, hashlib.sha256(b"x" * 129).hexdigest()),
        (None, hashlib.sha256(b"raw body").hexdigest()),
        ("  ", hashlib.sha256(b"raw body").hexdigest()),
    ],
)
def test_submission_id_is_the_delivery_id_when_sqs_accepts_it(delivery_id, expected):
    # Given a delivery id (or none) / When turned into the dedupe id / Then it is kept, or hashed, never rewritten
    assert submission_id(delivery_id, b"raw body") == expected


def test_sqs_safe_id_keeps_every_allowed_punctuation_character():
    allowed = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~aZ09"
    assert sqs_safe_id(allowed) == allowed


def test_redact_mapping_hides_secret_names_and_secret_values():
    # Given headers with a token, a signature, a harmless id and a value that embeds the secret
    headers = {
        "x-signup-relay-token": "abc",
        "typeform-signature": "sha256=zz",
        "authorization": "Bearer abc",
        "idempotency-key": "k-1",
        "referer": "https://example.com/?t=s3cret",
    }
    # When redacted with the route secret
    redacted = redact_mapping(headers, "s3cret")
    # Then only the delivery id survives
    assert redacted == {
        "x-signup-relay-token": "[redacted]",
        "typeform-signature": "[redacted]",
        "authorization": "[redacted]",
        "idempotency-key": "k-1",
        "referer": "[redacted]",
    }


def test_accepted_signup_is_queued_under_the_contact_group_and_delivery_id():
    # Given a source that yields a sign-up with a delivery id
    queue = FakeQueue()
    signup = Signup(email="Ada@Example.com", route="generic", delivery_id="generic:d-1")
    # When accepted
    accepted = accept(RawRequest(body=b"{}"), source_returning(signup), queue=queue)
    # Then the id is the delivery id and the message carries the sign-up
    assert accepted.id == "generic:d-1"
    [sent] = queue.sent
    assert sent["group_id"] == contact_key("ada@example.com")
    assert sent["dedupe_id"] == "generic:d-1"
    queued = QueuedSignup.model_validate_json(sent["body"])
    assert (queued.id, queued.received_at, queued.signup) == ("generic:d-1", NOW, signup)


@pytest.mark.parametrize(
    "error",
    [
        UnsupportedMediaTypeError("xml"),
        UndecodableBodyError("bad json"),
        SubmissionInvalidError("no email", field_errors={"email": "missing"}),
    ],
)
def test_authenticated_but_unusable_deliveries_are_kept_with_their_reason(error):
    # Given a source that refuses the body after authenticating it
    dlq = FakeDlq()
    request = RawRequest(headers={"content-type": "text/xml", "x-signup-relay-token": "t"}, body=b"<s3cret-token/>")
    # When accepted
    with pytest.raises(type(error)):
        accept(request, source_raising(error), dlq=dlq)
    # Then the DLQ keeps the reason and the body, with the secret cut out
    [record] = dlq.records
    assert (record.stage, record.route, record.error_class) == ("receive", "generic", error.error_class)
    assert record.field_errors == getattr(error, "field_errors", {})
    assert record.headers["x-signup-relay-token"] == "[redacted]"
    assert base64.b64decode(record.body_base64 or "") == b"<[redacted]/>"


def test_bad_signature_stores_nothing():
    dlq, queue = FakeDlq(), FakeQueue()
    with pytest.raises(SignatureError):
        accept(RawRequest(body=b"{}"), source_raising(SignatureError("bad")), queue=queue, dlq=dlq)
    assert dlq.records == [] and queue.sent == []


def test_unknown_route_and_oversized_body_are_refused_before_the_secret_is_read():
    def no_secret(ref):
        raise AssertionError("the secret must not be read")

    for route, body, error in (("nope", b"{}", UnknownRouteError), ("generic", b"x" * 2048, PayloadTooLargeError)):
        with pytest.raises(error):
            accept_webhook(
                route,
                RawRequest(body=body),
                routes=ROUTES,
                fetch_secret=no_secret,
                queue=FakeQueue(),
                dlq=FakeDlq(),
                max_body_bytes=1024,
                receive=source_raising(AssertionError("not reached")),
            )


def test_unusable_delivery_that_the_dlq_cannot_keep_answers_503():
    # Given a DLQ that is down / When an unusable delivery arrives / Then the sender is told to retry
    with pytest.raises(QueueUnavailableError):
        accept(RawRequest(body=b"{}"), source_raising(UndecodableBodyError("bad")), dlq=FakeDlq(fail=True))

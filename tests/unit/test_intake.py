"""intake: ids, redaction, and which receive failures are kept in the DLQ (real generic deliveries; fake queues)."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime

import pytest

from signup_relay.aws.queue import sqs_safe_id
from signup_relay.emails import contact_key
from signup_relay.errors import (
    PayloadTooLargeError,
    QueueUnavailableError,
    SignatureError,
    SubmissionInvalidError,
    UndecodableBodyError,
    UnsupportedMediaTypeError,
)
from signup_relay.models import QueuedSignup, RawRequest, decode
from signup_relay.receive.intake import accept_webhook, submission_id
from signup_relay.receive.redaction import redact_mapping
from signup_relay.routes import Routes
from tests.unit.fake_queues import FakeDlq, FakeQueue

NOW = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
ROUTES = Routes.model_validate(
    {
        "routes": {
            "generic": {"source": "generic", "secret": {"id": "signup-relay/webhooks/hooks"}, "consent": "implicit"}
        }
    }
)


SECRET = "s3cret-token"


def delivery(body: bytes, *, content_type: str = "application/json", token: str = SECRET, **headers: str) -> RawRequest:
    """A generic (Zapier-style) delivery: the route token in X-Signup-Relay-Token."""
    return RawRequest(
        headers={"content-type": content_type, "x-signup-relay-token": token, **headers},
        body=body,
    )


def accept(request: RawRequest, queue=None, dlq=None, route="generic", max_body_bytes=1024, deliveries=None):
    return accept_webhook(
        route,
        request,
        routes=ROUTES,
        fetch_secret=lambda ref: SECRET,
        queue=queue or FakeQueue(),
        dlq=dlq or FakeDlq(),
        max_body_bytes=max_body_bytes,
        clock=lambda: NOW,
        **({"deliveries": deliveries} if deliveries is not None else {}),
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
    # Given an authentic delivery with a delivery id
    queue = FakeQueue()
    request = delivery(b'{"email": "Ada@Example.com", "first_name": "Ada"}', **{"idempotency-key": "d-1"})
    # When accepted
    accepted = accept(request, queue=queue)
    # Then the id is the route's delivery id and the message carries the mapped sign-up
    assert accepted.id == "generic:d-1"
    [sent] = queue.sent
    assert sent["group_id"] == contact_key("ada@example.com")
    assert sent["dedupe_id"] == "generic:d-1"
    queued = decode(sent["body"], QueuedSignup)
    assert (queued.id, queued.received_at) == ("generic:d-1", NOW)
    assert (queued.signup.email, queued.signup.first_name, queued.signup.route) == ("ada@example.com", "Ada", "generic")
    assert queued.signup.delivery_id == "generic:d-1"


def test_a_lone_surrogate_escape_is_queued_as_a_replacement_character():
    # Given JSON whose first name ends in half an emoji (a JavaScript substring split it), its last name a whole one
    queue = FakeQueue()
    body = b'{"email": "ada@example.com", "first_name": "Ada \\ud83d", "last_name": "\\ud83d\\ude00"}'
    # When accepted
    accept(delivery(body), queue=queue)
    # Then the half becomes U+FFFD, the whole emoji is kept, and the message decodes
    [sent] = queue.sent
    queued = decode(sent["body"], QueuedSignup)
    assert (queued.signup.first_name, queued.signup.last_name) == ("Ada \ufffd", "\U0001f600")


@pytest.mark.parametrize(
    ("content_type", "body", "error"),
    [
        ("text/xml", b"<s3cret-token/>", UnsupportedMediaTypeError),
        ("application/json", b'{"email": "s3cret-token', UndecodableBodyError),
        ("application/json", b'{"name": "s3cret-token"}', SubmissionInvalidError),
    ],
)
def test_authenticated_but_unusable_deliveries_are_kept_with_their_reason(content_type, body, error):
    # Given an authentic delivery that cannot be used, echoing the secret in its body
    dlq, queue = FakeDlq(), FakeQueue()
    # When accepted
    with pytest.raises(error) as raised:
        accept(delivery(body, content_type=content_type), queue=queue, dlq=dlq)
    # Then nothing is queued and the DLQ keeps the reason and the body, with the secret cut out
    assert queue.sent == []
    [record] = dlq.records
    assert (record.stage, record.route, record.error_class) == ("receive", "generic", raised.value.error_class)
    assert record.message == raised.value.message
    assert record.field_errors == getattr(raised.value, "field_errors", {})
    if error is SubmissionInvalidError:
        assert "email" in record.field_errors
    assert record.queued_id == hashlib.sha256(body).hexdigest()
    assert record.headers["x-signup-relay-token"] == "[redacted]"
    assert SECRET.encode() not in base64.b64decode(record.body_base64 or "")
    assert base64.b64decode(record.body_base64 or "") == body.replace(SECRET.encode(), b"[redacted]")


def test_bad_token_stores_nothing():
    dlq, queue = FakeDlq(), FakeQueue()
    with pytest.raises(SignatureError):
        accept(delivery(b'{"email": "ada@example.com"}', token="not-the-token"), queue=queue, dlq=dlq)
    assert dlq.records == [] and queue.sent == []


def test_unknown_route_and_oversized_body_are_refused_before_the_secret_is_read():
    # Given no secret to read / When a delivery comes for an unknown route, or is oversized for any route / Then
    # an unknown route is refused like a wrong token, an oversized body with 413 whether or not the route exists
    def no_secret(ref):
        raise AssertionError("the secret must not be read")

    for route, body, error in (
        ("nope", b"{}", SignatureError),
        ("generic", b"x" * 2048, PayloadTooLargeError),
        ("nope", b"x" * 2048, PayloadTooLargeError),
    ):
        with pytest.raises(error):
            accept_webhook(
                route,
                RawRequest(body=body),
                routes=ROUTES,
                fetch_secret=no_secret,
                queue=FakeQueue(),
                dlq=FakeDlq(),
                max_body_bytes=1024,
            )


def test_unusable_delivery_that_the_dlq_cannot_keep_answers_503():
    # Given a DLQ that is down / When an unusable delivery arrives / Then the sender is told to retry
    with pytest.raises(QueueUnavailableError):
        accept(delivery(b"{not json"), dlq=FakeDlq(fail=True))


def test_an_internationalised_domain_is_queued_under_the_same_person_as_its_punycode_form():
    # Given one person's address written with a Unicode domain, then in punycode
    queue = FakeQueue()
    accept(delivery('{"email": "Zoe@Bücher.example"}'.encode()), queue=queue)
    accept(delivery(b'{"email": "zoe@xn--bcher-kva.example"}'), queue=queue)
    # Then both are accepted, in one message group, with one stored form of the address
    first, second = (decode(sent["body"], QueuedSignup) for sent in queue.sent)
    assert first.signup.email == second.signup.email == "zoe@xn--bcher-kva.example"
    assert queue.sent[0]["group_id"] == queue.sent[1]["group_id"] == contact_key("zoe@xn--bcher-kva.example")


def test_a_look_alike_address_is_refused_with_a_reason_and_kept():
    # Given an address whose domain hides a KELVIN SIGN (it would lower-case into another person's address)
    dlq = FakeDlq()
    with pytest.raises(SubmissionInvalidError) as refused:
        accept(delivery('{"email": "ada@ex\u212aample.com"}'.encode()), dlq=dlq)
    # Then the sender gets a 422 naming the email field, and the delivery is kept with that reason
    assert refused.value.status == 422 and "email" in refused.value.field_errors
    assert dlq.records[0].field_errors == refused.value.field_errors


class FakeDeliveryLog:
    """Records what intake asks it: the key, and the answer of each send it was allowed to run."""

    def __init__(self, known: dict[str, str] | None = None) -> None:
        self.known = known
        self.keys: list[dict[str, str]] = []

    def once(self, key, send):
        self.keys.append(dict(key))
        if self.known is not None:
            return self.known, True
        return send(), False


def test_delivery_log_is_asked_after_verification_with_the_route_and_submission_id():
    # Given a delivery log that has not seen this delivery
    log = FakeDeliveryLog()
    queue = FakeQueue()
    body = b'{"email": "ada@example.com"}'
    # When an authenticated delivery with an Idempotency-Key is accepted, and a wrongly signed one refused
    accepted = accept(delivery(body, **{"idempotency-key": "zap-1"}), queue=queue, deliveries=log)
    with pytest.raises(SignatureError):
        accept(delivery(body, token="wrong", **{"idempotency-key": "zap-2"}), queue=queue, deliveries=log)
    # Then only the authenticated one reached the log, keyed by route and submission id, and it was queued
    assert log.keys == [{"route": "generic", "submission_id": "generic:zap-1"}]
    assert (accepted.id, accepted.repeated, len(queue.sent)) == ("generic:zap-1", False, 1)


def test_a_delivery_the_log_already_holds_is_answered_with_its_id_and_not_queued():
    log = FakeDeliveryLog(known={"id": "generic:zap-1", "message_id": "m-earlier"})
    queue = FakeQueue()
    accepted = accept(
        delivery(b'{"email": "ada@example.com"}', **{"idempotency-key": "zap-1"}), queue=queue, deliveries=log
    )
    assert (accepted.id, accepted.message_id, accepted.repeated) == ("generic:zap-1", "m-earlier", True)
    assert queue.sent == []

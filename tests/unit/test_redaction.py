"""What the DLQ keeps of an unusable delivery: no route secret in any encoding, no credential a sender echoes."""

from __future__ import annotations

import base64
import json
from urllib.parse import quote, quote_plus

import pytest

from signup_relay.errors import SubmissionInvalidError
from signup_relay.models import RawRequest, to_json
from signup_relay.receive.intake import accept_webhook
from signup_relay.receive.redaction import REDACTED, redact_kept_body
from signup_relay.receive.sources import get_source
from tests.unit.fake_queues import FakeDlq, FakeQueue
from tests.unit.sources_support import example_routes, multipart_content_type, real_fixture

# A secret whose encodings all differ: '/' (escaped by PHP's JSON), '+', '=' and ' ' (URL and form encodings),
# non-ASCII (JSON \u escapes), 19 bytes (base64 padding) whose base64 has a '+' (URL-safe base64 differs).
SECRET = "tok/en+ü=é~? >>>!"
JSON_ESCAPED = json.dumps(SECRET)[1:-1]  # tok/en+\u00fc=\u00e9~? >>>!
ENCODINGS = {
    "plain": SECRET,
    "URL-encoded": quote(SECRET, safe=""),
    "URL-encoded, lower-case hex": quote(SECRET, safe="").lower(),
    "form-encoded": quote_plus(SECRET),
    "URL-encoded, '/' kept": quote(SECRET),
    "JSON-escaped": JSON_ESCAPED,
    "JSON-escaped, PHP's '\\/'": JSON_ESCAPED.replace("/", "\\/"),
    "JSON-escaped twice": json.dumps(JSON_ESCAPED)[1:-1],
    "base64": base64.b64encode(SECRET.encode()).decode(),
    "base64 unpadded": base64.b64encode(SECRET.encode()).decode().rstrip("="),
    "URL-safe base64": base64.urlsafe_b64encode(SECRET.encode()).decode(),
    "URL-safe base64 unpadded": base64.urlsafe_b64encode(SECRET.encode()).decode().rstrip("="),
}


def keep(body: bytes, content_type: str, *, route: str = "generic", secret: str = SECRET):
    """The FailureRecord receive keeps for an authenticated delivery that maps to no sign-up."""
    dlq = FakeDlq()
    request = RawRequest(headers={"content-type": content_type, "x-signup-relay-token": secret}, body=body)
    with pytest.raises(SubmissionInvalidError):
        accept_webhook(
            route,
            request,
            routes=example_routes(),
            fetch_secret=lambda ref: secret,
            queue=FakeQueue(),
            dlq=dlq,
            max_body_bytes=1_000_000,
        )
    [record] = dlq.records
    return record


def test_the_encodings_differ_from_each_other():
    # Given the secret's encodings / Then each is a distinct text, so each case below tests something
    assert len(set(ENCODINGS.values())) == len(ENCODINGS)


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_dlq_record_keeps_no_copy_of_the_route_secret_in_any_encoding(encoding: str):
    # Given a delivery without an email whose body echoes the route secret in one encoding
    body = json.dumps({"first_name": "Nobody", "note": "see "}).replace("see ", "see " + ENCODINGS[encoding])

    # When receive keeps it in the DLQ
    record = keep(body.encode(), "application/json")

    # Then neither the kept body nor anything else in the record holds the secret in any encoding
    kept = base64.b64decode(record.body_base64 or "").decode()
    stored = kept + to_json(record)
    assert [name for name, form in ENCODINGS.items() if form in stored] == []
    assert f"see {REDACTED}" in kept and '"first_name": "Nobody"' in kept


def test_jotform_echoed_api_key_keeps_its_name_but_not_its_value():
    # Given a real Jotform delivery (no email) whose webhookURL part echoes the receiver's URL with an api_key
    body = real_fixture("jotform/tutor-appointment.multipart", crlf=True)
    api_key = "DhXGrkyy2bK2SXMQMXwhs95H4kVVwv2w"
    assert f"?api_key={api_key}".encode() in body
    route = example_routes().get("jotform-registration")

    # When receive keeps it in the DLQ
    record = keep(body, multipart_content_type(body), route=route.name, secret="t0ken-123")

    # Then the key name stays and its value is gone; the kept body still parses to the same answers
    kept = base64.b64decode(record.body_base64 or "")
    assert f"?api_key={REDACTED}".encode() in kept
    assert api_key.encode() not in kept and base64.b64encode(api_key.encode()) not in kept
    content_type = {"content-type": multipart_content_type(body)}
    original = get_source("jotform").parse(RawRequest(headers=content_type, body=body))
    replayed = get_source("jotform").parse(RawRequest(headers=content_type, body=kept))
    assert replayed.answers == original.answers


CREDENTIALS = {
    "api_key": "ak_live_0123456789abcdef",
    "password": "hunter2",  # short: replaced where it stands, not searched for elsewhere
    "client_secret": "cs_9f8e7d6c5b4a",
    "Authorization": "Bearer eyJhbGciOi.payload.sig",
}
ECHOED = CREDENTIALS["api_key"]


def _form(pairs: list[tuple[str, str]]) -> bytes:
    return "&".join(f"{quote_plus(name)}={quote_plus(value)}" for name, value in pairs).encode()


def _multipart(pairs: list[tuple[str, str]]) -> bytes:
    parts = [f'--B\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n' for name, value in pairs]
    return ("".join(parts) + "--B--\r\n").encode()


FIELDS = [*CREDENTIALS.items(), ("first_name", "Nobody"), ("callback", f"https://example.net/hook?apikey={ECHOED}")]
BODIES = {
    "JSON": (
        json.dumps({"first_name": "Nobody", "auth": dict(CREDENTIALS), "note": ECHOED}).encode(),
        "application/json",
    ),
    "form": (_form([*FIELDS, ("note", ECHOED)]), "application/x-www-form-urlencoded"),
    "multipart": (_multipart([*FIELDS, ("note", ECHOED)]), "multipart/form-data; boundary=B"),
}


@pytest.mark.parametrize("kind", BODIES)
def test_values_of_secret_named_fields_are_replaced_in_json_form_and_multipart_bodies(kind: str):
    # Given an unusable delivery carrying credentials under secret-looking names (one also echoed elsewhere)
    body, content_type = BODIES[kind]

    # When receive keeps it in the DLQ
    record = keep(body, content_type)

    # Then the names stay, no credential value is left anywhere, and the other fields are untouched
    kept = base64.b64decode(record.body_base64 or "").decode()
    assert all(name in kept for name in CREDENTIALS)
    assert [value for value in CREDENTIALS.values() if value in kept or quote_plus(value) in kept] == []
    assert "Nobody" in kept


def test_a_body_without_secrets_is_kept_byte_for_byte():
    # Given an unusable JSON body with nothing secret in it, formatted its own way
    body = b'{ "first_name" : "Nobody",\n  "note": "a\\/b \\u00e9" }'
    # When kept / Then it is not re-serialized
    assert redact_kept_body(body, "application/json", SECRET) == body

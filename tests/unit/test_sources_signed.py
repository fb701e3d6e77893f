"""Signed sources: each scheme accepts its own signature over the raw body and refuses everything else."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from msgspec.structs import replace

from local.events.scenarios import SCENARIOS
from signup_relay.errors import SignatureError
from signup_relay.receive.intake import receive_submission
from signup_relay.receive.sources import SOURCE_NAMES, get_source
from signup_relay.receive.sources._common import parse_datetime
from tests.unit.sources_support import SIGNED_SAMPLES, now, request_from_event, sample

# Source -> (header carrying the timestamp, how to read it as unix seconds) for the time-windowed schemes.
WINDOWED = {
    "webflow_signup.json": lambda h: int(h["x-webflow-timestamp"]) / 1000,
    "formspree_signup.json": lambda h: int(h["formspree-signature"].split(",")[0][2:]),
    "wpforms_signup.json": lambda h: int(h["x-wpforms-webhook-signature"].split(",")[0][2:]),
    "hubspot_contact.json": lambda h: int(h["x-hubspot-request-timestamp"]) / 1000,
    "standard_webhooks_signup.json": lambda h: int(h["webhook-timestamp"]),
}
WINDOWS = {"wpforms_signup.json": 900}


def test_every_signed_source_has_a_sample():
    # Given the source kinds whose module computes a signature (the others check a route token)
    signed = {name for name in SOURCE_NAMES if hasattr(get_source(name), "sign")}
    # Then each has a valid sample event
    assert {s.source for s in SCENARIOS if s.file in SIGNED_SAMPLES} == signed


@pytest.mark.parametrize("name", SIGNED_SAMPLES)
def test_signature_over_the_raw_body_is_accepted(name):
    # Given a sample signed with the route secret
    route, request, secret = sample(name)
    # When it is verified
    get_source(route.source).verify(request, secret, now())
    # Then no error is raised and the whole delivery maps to a sign-up
    signup = receive_submission(route, request, secret=secret, now=now())
    assert signup.email.endswith("@example.com")
    assert signup.route == route.name


@pytest.mark.parametrize("name", SIGNED_SAMPLES)
def test_tampered_body_is_rejected(name):
    # Given a signed sample whose body changed by one byte in transit
    route, request, secret = sample(name)
    body = re.sub(rb"(?i)example\.com", b"example.net", request.body, count=1)
    tampered = replace(request, body=body)
    assert tampered.body != request.body
    # When / Then verification fails
    with pytest.raises(SignatureError):
        get_source(route.source).verify(tampered, secret, now())


@pytest.mark.parametrize("name", SIGNED_SAMPLES)
def test_wrong_secret_is_rejected(name):
    # Given a sample signed with the route secret
    route, request, secret = sample(name)
    other = "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo=" if secret.startswith("whsec_") else secret + "x"
    # When it is verified with another secret / Then it fails
    with pytest.raises(SignatureError):
        get_source(route.source).verify(request, other, now())


@pytest.mark.parametrize("name", SIGNED_SAMPLES)
def test_missing_signature_header_is_rejected(name):
    # Given a sample stripped of every signature header
    route, request, secret = sample(name)
    unsigned = {k: v for k, v in request.headers.items() if "signature" not in k}
    request = replace(request, headers=unsigned)
    # When / Then
    with pytest.raises(SignatureError):
        get_source(route.source).verify(request, secret, now())


@pytest.mark.parametrize("name", SIGNED_SAMPLES)
def test_empty_route_secret_authenticates_nothing(name):
    # Given a route whose secret is empty (a misconfiguration)
    route, request, _secret = sample(name)
    # When / Then nothing verifies, not even a request signed with the empty key
    with pytest.raises(SignatureError):
        get_source(route.source).verify(request, "", now())


@pytest.mark.parametrize("name", sorted(WINDOWED))
@pytest.mark.parametrize("offset", [-1, 1])
def test_timestamp_window_is_enforced(name, offset):
    # Given a sample signed at time T
    route, request, secret = sample(name)
    signed_at = WINDOWED[name](request.headers)
    window = WINDOWS.get(name, 300)
    verify = get_source(route.source).verify
    moment = parse_datetime(signed_at)
    assert moment is not None
    # When it arrives just inside the window (either side of T) it is accepted
    verify(request, secret, moment + offset * timedelta(seconds=window - 5))
    # And just outside it is refused
    with pytest.raises(SignatureError, match="window"):
        verify(request, secret, moment + offset * timedelta(seconds=window + 5))


@pytest.mark.parametrize(
    "name", ["webflow_stale_timestamp.json", "formspree_stale_timestamp.json", "hubspot_stale_timestamp.json",
             "standard_webhooks_stale_timestamp.json"]
)  # fmt: skip
def test_stale_events_stay_stale_when_refreshed(name):
    # Given a stale-timestamp event re-signed "now" (as the demo does)
    route, request, secret = sample(name)
    # When / Then it is still refused for its timestamp, not its signature
    with pytest.raises(SignatureError, match="window"):
        get_source(route.source).verify(request, secret, now())


@pytest.mark.parametrize(
    "name", ["webflow_bad_signature.json", "tally_wrong_secret.json", "typeform_tampered_body.json"]
)
def test_bad_signature_events_are_refused(name):
    # Given an event signed with another secret or changed after signing
    route, request, secret = sample(name)
    # When / Then
    with pytest.raises(SignatureError):
        receive_submission(route, request, secret=secret, now=now())


def test_hubspot_signs_the_full_url_including_host_and_query():
    # Given a HubSpot sample signed for https://<host>/hooks/hubspot-workflow
    route, request, secret = sample("hubspot_contact.json")
    verify = get_source("hubspot").verify
    # When it reaches another host, or with a query string it was not signed with
    moved = replace(request, headers={**request.headers, "host": "evil.example.net"})
    queried = replace(request, raw_query="x=1")
    # Then both are refused
    for variant in (moved, queried):
        with pytest.raises(SignatureError):
            verify(variant, secret, now())


def test_hubspot_event_can_be_re_signed_for_the_local_stack_host():
    # Given the HubSpot sample loaded for the host the demo posts to
    from local.events.build import load_event

    event = load_event("hubspot_contact.json", host="127.0.0.1:3000")
    route, _request, secret = sample("hubspot_contact.json")
    # When verified / Then the signature matches that host
    get_source("hubspot").verify(request_from_event(event), secret, now())


def test_standard_webhooks_accepts_any_of_several_signatures_during_rotation():
    # Given a Standard Webhooks sample whose header also lists an old-key signature and an unknown version
    route, request, secret = sample("standard_webhooks_signup.json")
    rotated = f"v1,b2xkLWtleS1zaWduYXR1cmU= v2,zzz {request.headers['webhook-signature']}"
    request = replace(request, headers={**request.headers, "webhook-signature": rotated})
    # When / Then it verifies
    get_source("standard_webhooks").verify(request, secret, now())


def test_standard_webhooks_skips_malformed_entries_beside_the_right_signature():
    # Given a Standard Webhooks sample whose header also carries entries that are not `version,<base64>`
    route, request, secret = sample("standard_webhooks_signup.json")
    valid = request.headers["webhook-signature"]
    odd = f"v1  v1,a,b v1,not*base64 {valid} v1,"
    verify = get_source("standard_webhooks").verify
    # When / Then the right signature still verifies
    verify(replace(request, headers={**request.headers, "webhook-signature": odd}), secret, now())
    # And without it the package refuses it: a SignatureError naming the header, never another exception
    alone = replace(request, headers={**request.headers, "webhook-signature": "v1 v1,a,b v1,b2xkLWtleS1zaWduYXR1cmU="})
    with pytest.raises(SignatureError, match="^webhook-signature does not match"):
        verify(alone, secret, now())
    # And a body that is not UTF-8 is refused the same way
    binary = replace(request, body=request.body + b"\xff")
    with pytest.raises(SignatureError, match="not UTF-8"):
        verify(binary, secret, now())


def test_standard_webhooks_accepts_svix_header_names():
    # Given a Standard Webhooks sample with svix-* header names (Svix-based senders)
    route, request, secret = sample("standard_webhooks_signup.json")
    headers = {k.replace("webhook-", "svix-"): v for k, v in request.headers.items()}
    request = replace(request, headers=headers)
    # When / Then
    get_source("standard_webhooks").verify(request, secret, now())
    assert get_source("standard_webhooks").parse(request).delivery_id == "msg_2pQ8rT4vX6zB1dF3hJ5kL7nP9s"


def test_wpforms_json_mode_signs_the_raw_body():
    # Given a WPForms delivery in JSON mode signed over its raw bytes
    import hashlib
    import hmac
    import json

    route, request, secret = sample("wpforms_signup.json")
    body = json.dumps({"email": "chien-shiung.wu@example.com", "consent": "yes"}).encode()
    t = str(int(now().timestamp()))
    signature = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    headers = {**request.headers, "content-type": "application/json; charset=utf-8",
               "x-wpforms-webhook-signature": f"t={t},v={signature}"}  # fmt: skip
    request = replace(request, body=body, headers=headers)
    # When / Then it verifies and maps
    assert receive_submission(route, request, secret=secret, now=now()).email == "chien-shiung.wu@example.com"

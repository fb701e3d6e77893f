"""Unsigned sources: the per-route token (header preferred, Bearer or ?token= accepted; Wufoo's HandshakeKey)."""

from __future__ import annotations

import pytest
from msgspec.structs import replace

from signup_relay.errors import SignatureError
from signup_relay.models import to_json
from signup_relay.receive.intake import receive_submission
from signup_relay.receive.sources import get_source
from tests.unit.sources_support import now, sample

TOKEN_SAMPLES = [
    "generic_signup.json",
    "jotform_signup.json",
    "gravity_forms_signup.json",
    "elementor_signup.json",
    "cf7_signup.json",
    "cognito_signup.json",
    "fillout_signup.json",
    "wufoo_signup.json",
    "unbounce_signup.json",
    "google_forms_signup.json",
]


def _without_token(request):
    headers = {k: v for k, v in request.headers.items() if k not in ("x-signup-relay-token", "authorization")}
    return replace(request, headers=headers, query={}, raw_query="")


@pytest.mark.parametrize("name", [n for n in TOKEN_SAMPLES if n != "generic_signup.json"])
def test_sample_authenticates_and_maps(name):
    # Given a sample carrying the route token the way that builder sends it
    route, request, secret = sample(name)
    # When received
    signup = receive_submission(route, request, secret=secret, now=now())
    # Then it maps to a sign-up for that route
    assert signup.email.endswith("@example.com")
    assert signup.source == route.source


@pytest.mark.parametrize("name", TOKEN_SAMPLES)
@pytest.mark.parametrize("where", ["header", "bearer", "query"])
def test_token_is_accepted_in_header_bearer_or_query(name, where):
    # Given a sample stripped of its token, then given it back in one place
    route, request, secret = sample(name)
    request = _without_token(request)
    if where == "header":
        request = replace(request, headers={**request.headers, "x-signup-relay-token": secret})
    elif where == "bearer":
        request = replace(request, headers={**request.headers, "authorization": f"Bearer {secret}"})
    else:
        request = replace(request, query={"token": secret})
    # When / Then it verifies
    get_source(route.source).verify(request, secret, now())


@pytest.mark.parametrize("name", [n for n in TOKEN_SAMPLES if n != "wufoo_signup.json"])
def test_missing_token_is_rejected(name):
    # Given a sample without any token
    route, request, secret = sample(name)
    # When / Then
    with pytest.raises(SignatureError):
        get_source(route.source).verify(_without_token(request), secret, now())


@pytest.mark.parametrize("name", TOKEN_SAMPLES)
def test_wrong_token_is_rejected(name):
    # Given a sample whose route has another secret
    route, request, secret = sample(name)
    # When / Then
    with pytest.raises(SignatureError):
        get_source(route.source).verify(request, secret + "-rotated", now())


@pytest.mark.parametrize("name", TOKEN_SAMPLES)
def test_empty_route_secret_rejects_even_an_empty_token(name):
    # Given a route without a secret and a request with an empty token header
    route, request, _secret = sample(name)
    request = replace(
        _without_token(request), headers={**request.headers, "x-signup-relay-token": ""}, query={"token": ""}
    )
    # When / Then
    with pytest.raises(SignatureError):
        get_source(route.source).verify(request, "", now())


def test_wufoo_authenticates_with_the_handshake_key_in_the_body():
    # Given the Wufoo sample: no header, no query, the Handshake Key in the form body
    route, request, secret = sample("wufoo_signup.json")
    assert "x-signup-relay-token" not in request.headers and not request.query
    verify = get_source("wufoo").verify
    # When verified with the route secret / Then accepted
    verify(request, secret, now())
    # And a different key is refused
    with pytest.raises(SignatureError, match="HandshakeKey"):
        verify(request, "another-handshake-key", now())


def test_wufoo_handshake_key_is_not_kept_in_the_signup():
    # Given the Wufoo sample
    route, request, secret = sample("wufoo_signup.json")
    # When received
    signup = receive_submission(route, request, secret=secret, now=now())
    # Then the key appears nowhere in the sign-up
    assert secret not in to_json(signup)


def test_undecodable_wufoo_body_without_token_is_unauthorized_not_stored():
    # Given a Wufoo request with no token and a body that is not a form
    route, request, secret = sample("wufoo_signup.json")
    request = replace(request, body=b"\xff\xfe%%%")
    # When / Then: 401 (nothing stored), not 400
    with pytest.raises(SignatureError):
        get_source("wufoo").verify(request, secret, now())

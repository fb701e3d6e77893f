"""The connect CLI's pure parts: PKCE pair, the secret it builds, masking, arguments.

The flows themselves run against the sandbox in tests/integration/test_connect.py.
"""

from __future__ import annotations

import base64
import hashlib
import time

import pytest

from local.aws_resources import constant_contact_secret
from signup_relay.ops.connect import masked, parse_args, secret_from_grant
from signup_relay.ops.oauth_flows import (
    DEFAULT_AUTHORIZE_URL,
    DEFAULT_DEVICE_URL,
    ConnectError,
    ConnectOptions,
    pkce_pair,
)
from signup_relay.tokens.endpoint import TokenGrant

OPTIONS = ConnectOptions(secret_id="s", client_id="key-1", client_secret="shh-secret-value")
GRANT = TokenGrant(
    access_token="eyJhbGciOiJIUzI1NiJ9.access-token-body.sig1",
    refresh_token="rotating-refresh-token-value-abcd",
    expires_in=86400,
    scope="contact_data offline_access",
)


def test_pkce_pair_is_an_s256_challenge_of_a_valid_verifier() -> None:
    # Given a fresh PKCE pair
    verifier, challenge = pkce_pair()
    # When the challenge is recomputed as the authorization server does (RFC 7636 S256)
    expected = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    # Then it matches, and the verifier has a legal length
    assert challenge == expected and 43 <= len(verifier) <= 128
    assert pkce_pair()[0] != verifier


def test_the_secret_has_the_design_shape_with_an_absolute_expiry() -> None:
    # Given a grant issued at a known time
    # When the secret is built
    secret = secret_from_grant(OPTIONS, GRANT, issued_at=1_800_000_000.4)
    # Then it carries every key of docs/token-refresh.md, expires_at in epoch seconds
    assert secret["client_id"] == "key-1" and secret["client_secret"] == "shh-secret-value"
    assert secret["access_token"] == GRANT.access_token and secret["refresh_token"] == GRANT.refresh_token
    assert secret["expires_at"] == 1_800_086_400 and secret["refresh_token_type"] == "rotating"


def test_the_local_stack_secret_has_the_connect_shape_and_a_fresh_keep_alive_clock() -> None:
    # Given a pair handed to the local stack just now
    before = time.time()
    # When the local stack builds its secret
    secret = constant_contact_secret(
        client_id="key-1", client_secret="shh-secret-value", access_token="a" * 20, refresh_token="r" * 20
    )
    # Then it has the keys connect writes, and refreshed_at is now: the first scheduled check keeps the refresh token
    assert secret.keys() == secret_from_grant(OPTIONS, GRANT, issued_at=0).keys()
    assert before <= secret["refreshed_at"] == secret["token_requested_at"] <= time.time()


def test_a_grant_without_a_refresh_token_is_refused_with_the_offline_access_hint() -> None:
    # Given a grant that came back without a refresh token (offline_access missing)
    grant = TokenGrant(access_token="a" * 20, refresh_token=None, expires_in=86400, scope="contact_data")
    # When the secret is built
    with pytest.raises(ConnectError) as raised:
        secret_from_grant(OPTIONS, grant, issued_at=0)
    # Then the person is told why
    assert "offline_access" in raised.value.message


def test_masked_hides_tokens_and_the_client_secret() -> None:
    # Given a full secret
    secret = secret_from_grant(OPTIONS, GRANT, issued_at=0)
    # When masked for printing
    shown = str(masked(secret))
    # Then no token or client secret appears, the rest does
    for hidden in (GRANT.access_token, GRANT.refresh_token, "shh-secret-value"):
        assert hidden not in shown
    assert "key-1" in shown and "abcd" in shown


def test_arguments_default_to_constant_contact_and_honour_the_environment() -> None:
    # Given the environment a person would set
    env = {"CC_CLIENT_ID": "key-env", "CC_CLIENT_SECRET": "secret-env", "CC_TOKEN_URL": "http://127.0.0.1:1/token"}
    # When only the flow is given on the command line
    options = parse_args(["--flow", "pkce", "--dry-run"], env)
    # Then the client and token URL come from the environment, the rest from Constant Contact's defaults
    assert (options.client_id, options.client_secret, options.token_url) == (
        "key-env",
        "secret-env",
        "http://127.0.0.1:1/token",
    )
    assert options.authorize_url == DEFAULT_AUTHORIZE_URL and options.device_url == DEFAULT_DEVICE_URL
    assert options.flow == "pkce" and options.dry_run and options.secret_id == "signup-relay/constant-contact"


def test_a_missing_client_id_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    # Given no API key anywhere
    # When connect parses its arguments
    with pytest.raises(SystemExit) as raised:
        parse_args([], {})
    # Then it stops with a usage message naming the option
    assert raised.value.code == 2 and "--client-id" in capsys.readouterr().err

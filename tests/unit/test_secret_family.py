"""Deployable secret ids: CC_SECRET_ID / WEBHOOK_SECRET_ID and the secrets named `<that>/<name>` (the stack's IAM).

A route naming any other `account` or `secret.id` fails at load, naming the route and key.
"""

from __future__ import annotations

import pytest

from signup_relay.config import get_settings, secret_in_family
from signup_relay.errors import ConfigError
from signup_relay.routes import parse_routes

BASE = "signup-relay/constant-contact"
ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:"


@pytest.mark.parametrize(
    "secret_id",
    [
        BASE,
        f"{BASE}/acme",
        f"{BASE}/acme/eu",
        f"{ARN}{BASE}-AbC123",
        f"{ARN}{BASE}/acme-AbC123",
    ],
)
def test_the_base_secret_and_the_secrets_under_it_are_in_the_family(secret_id):
    # Given a secret id the stack's IAM resources (<base>-?????? and <base>/*) cover / Then it is in the family
    assert secret_in_family(secret_id, BASE)


@pytest.mark.parametrize(
    "secret_id",
    [
        "acme/cc",
        f"{BASE}-acme",  # IAM's <base>-?????? is the base secret's own ARN suffix, not a family member
        f"{BASE}x/acme",
        f"{BASE}/",
        "Signup-Relay/Constant-Contact/acme",  # secret names are case-sensitive
        f"{ARN}other/acme-AbC123",
        "",
    ],
)
def test_other_secrets_are_not_in_the_family(secret_id):
    # Given a secret id the stack's IAM does not cover / Then it is refused
    assert not secret_in_family(secret_id, BASE)


def test_an_arn_base_has_no_family_but_itself():
    # Given CC_SECRET_ID given as a full ARN (its random suffix cannot prefix other names)
    base = f"{ARN}{BASE}-AbC123"
    # Then only that very ARN is usable
    assert secret_in_family(base, base)
    assert not secret_in_family(f"{ARN}{BASE}-AbC123/acme", base) and not secret_in_family(f"{BASE}/acme", base)


def _route(**body):
    return {"routes": {"shop": {"source": "generic", "consent": "explicit", **body}}}


def test_a_route_may_name_an_account_and_a_webhook_secret_under_the_stacks_secrets():
    # Given a route whose account and webhook secret follow the convention
    route = parse_routes(
        _route(account=f"{BASE}/acme", secret={"id": "signup-relay/webhooks/acme", "key": "shop"})
    ).get("shop")
    # Then they are kept as written
    assert (route.account, route.secret.secret_id) == (f"{BASE}/acme", "signup-relay/webhooks/acme")


def test_an_account_outside_cc_secret_id_fails_at_load_naming_the_route_key_and_the_fix():
    # Given a route naming an account the deployed stack could neither read nor refresh
    # When the routes are loaded
    with pytest.raises(ConfigError) as raised:
        parse_routes(_route(account="acme/cc"))
    # Then the error names the route, the key, and the name to use instead
    message = str(raised.value)
    assert "route 'shop', key 'account'" in message
    assert f"'{BASE}/<name>'" in message and "'acme/cc'" in message


def test_a_webhook_secret_outside_webhook_secret_id_fails_at_load_naming_the_route_and_key():
    # Given a route whose webhook secret receive could not read on AWS
    with pytest.raises(ConfigError) as raised:
        parse_routes(_route(secret={"id": "other/secret"}))
    # Then the error names the route and key and the convention
    message = str(raised.value)
    assert "route 'shop', key 'secret.id'" in message and "'signup-relay/webhooks/<name>'" in message


def test_the_convention_follows_the_configured_secret_ids(monkeypatch):
    # Given a stack deployed with other secret names
    monkeypatch.setenv("CC_SECRET_ID", "acme/cc")
    monkeypatch.setenv("WEBHOOK_SECRET_ID", "acme/hooks")
    get_settings.cache_clear()
    # Then routes name accounts and webhook secrets under those
    route = parse_routes(_route(account="acme/cc/eu", secret={"id": "acme/hooks/eu"})).get("shop")
    assert (route.account, route.secret.secret_id) == ("acme/cc/eu", "acme/hooks/eu")
    # ... and the defaults no longer fit
    with pytest.raises(ConfigError, match="route 'shop', key 'account'"):
        parse_routes(_route(account=f"{BASE}/eu"))


def test_with_an_arn_cc_secret_id_a_route_may_only_name_that_secret(monkeypatch):
    # Given CC_SECRET_ID given as an ARN
    base = f"{ARN}{BASE}-AbC123"
    monkeypatch.setenv("CC_SECRET_ID", base)
    get_settings.cache_clear()
    # Then the route may name it, and naming another account says to give CcSecretId as a name
    assert parse_routes(_route(account=base)).get("shop").account == base
    with pytest.raises(ConfigError, match="give CcSecretId as a secret name"):
        parse_routes(_route(account=f"{BASE}/acme"))

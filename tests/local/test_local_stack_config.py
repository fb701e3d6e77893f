"""The local stack's environment: routes file, where each route's webhook secret comes from, the external server."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from local.stack_config import (
    DEFAULT_ROUTES_FILE,
    LOCAL_DEFAULT_STANDARD_WEBHOOKS_SECRET,
    LOCAL_DEFAULT_WEBHOOK_SECRET,
    NO_ACCESS_TOKEN,
    SOURCE_DEFAULT,
    SOURCE_DEMO,
    SOURCE_OVERRIDE,
    LocalConfigError,
    constant_contact_env,
    demo_secrets,
    load_local_routes,
    route_secrets,
    routes_file,
    secret_overrides,
    secrets_by_id,
    unused_overrides,
)
from signup_relay.config import DEFAULT_TOKEN_URL
from signup_relay.routes import parse_routes

ROUTES = parse_routes(
    {
        "routes": {
            "generic": {"source": "generic", "consent": "implicit"},
            "custom": {
                "source": "generic",
                "consent": "implicit",
                "secret": {"id": "signup-relay/webhooks/other", "key": "k1"},
            },
            "plain": {"source": "generic", "consent": "implicit"},
            "signed": {"source": "standard_webhooks", "consent": "implicit"},
        }
    }
)


def test_each_route_secret_comes_from_the_override_then_the_demo_file_then_the_local_default():
    # Given an override by secret key for one route and the demo secret of `generic`
    overrides = {"k1": "custom-secret"}
    demo = {"generic": "demo-generic"}

    # When the secrets are resolved and grouped by Secrets Manager secret
    found = {secret.route: secret for secret in route_secrets(ROUTES, overrides, demo)}
    stored = secrets_by_id(list(found.values()))

    # Then each route got the first source that has it, stored under the route's own secret id and key
    assert {name: (s.value, s.source) for name, s in found.items()} == {
        "generic": ("demo-generic", SOURCE_DEMO),
        "custom": ("custom-secret", SOURCE_OVERRIDE),
        "plain": (LOCAL_DEFAULT_WEBHOOK_SECRET, SOURCE_DEFAULT),
        "signed": (LOCAL_DEFAULT_STANDARD_WEBHOOKS_SECRET, SOURCE_DEFAULT),
    }
    assert stored == {
        "signup-relay/webhooks": {
            "generic": "demo-generic",
            "plain": LOCAL_DEFAULT_WEBHOOK_SECRET,
            "signed": LOCAL_DEFAULT_STANDARD_WEBHOOKS_SECRET,
        },
        "signup-relay/webhooks/other": {"k1": "custom-secret"},
    }
    # and only the documented defaults are ever shown
    assert "custom-secret" not in found["custom"].describe()
    assert LOCAL_DEFAULT_WEBHOOK_SECRET in found["plain"].describe()
    signing_key = base64.b64decode(LOCAL_DEFAULT_STANDARD_WEBHOOKS_SECRET.removeprefix("whsec_"))
    assert signing_key == LOCAL_DEFAULT_WEBHOOK_SECRET.encode()


def test_an_override_by_route_name_wins_and_unknown_keys_are_reported():
    # Given overrides by route name, one of them for no route at all
    overrides = {"generic": "mine", "custom": "by-name", "genric": "typo"}

    # When the secrets are resolved
    found = {secret.route: secret.value for secret in route_secrets(ROUTES, overrides, {"generic": "demo"})}

    # Then the route name beats both the secret key and the demo file, and the typo is named
    assert (found["generic"], found["custom"]) == ("mine", "by-name")
    assert unused_overrides(ROUTES, overrides) == ["genric"]


def test_routes_sharing_a_secret_key_must_agree():
    # Given two routes reading the same key, given different secrets
    routes = parse_routes(
        {
            "routes": {
                "a": {"source": "generic", "consent": "implicit", "secret": {"key": "shared"}},
                "b": {"source": "generic", "consent": "implicit", "secret": {"key": "shared"}},
            }
        }
    )
    secrets = route_secrets(routes, {"a": "one", "b": "two"}, {})

    # When they are grouped / Then the conflict is refused with the key named
    with pytest.raises(LocalConfigError, match="'shared'"):
        secrets_by_id(secrets)


def test_local_webhook_secrets_inline_or_from_a_file(tmp_path: Path):
    # Given the same object inline and in a file, with a comment key
    path = tmp_path / "secrets.json"
    path.write_text(json.dumps({"_comment": "x", "generic": "g"}))

    # When each is read / Then both give the secrets without the comment; unset gives none
    assert secret_overrides({"LOCAL_WEBHOOK_SECRETS": '{"generic": "g"}'}) == {"generic": "g"}
    assert secret_overrides({"LOCAL_WEBHOOK_SECRETS": str(path)}) == {"generic": "g"}
    assert secret_overrides({}) == {}
    with pytest.raises(LocalConfigError, match="cannot read"):
        secret_overrides({"LOCAL_WEBHOOK_SECRETS": str(tmp_path / "missing.json")})
    with pytest.raises(LocalConfigError, match="must be a JSON object"):
        secret_overrides({"LOCAL_WEBHOOK_SECRETS": "[1]"})


def test_the_demo_routes_all_have_a_demo_secret_and_create_what_they_name():
    # Given the shipped routes.yaml and local/demo_secrets.json
    routes = load_local_routes(routes_file({}))
    found = route_secrets(routes, {}, demo_secrets())

    # Then `make demo` needs no default secret, and every route creates its lists (and custom fields when it
    # names any), so it works against an empty account, embedded or external - except the one route that shows
    # the production setting (create_missing_lists false: its events/ sample is expected to be rejected)
    assert routes_file({}) == DEFAULT_ROUTES_FILE
    assert {secret.source for secret in found} == {SOURCE_DEMO}
    strict = {name for name, route in routes.routes.items() if not route.create_missing_lists}
    assert strict == {"generic-existing-lists"}
    for route in routes.routes.values():
        # V2's custom fields always exist (CustomField1..15): nothing to create
        if (route.custom_fields or route.consent_custom_fields) and route.api != "v2":
            assert route.create_missing_custom_fields, route.name


def test_a_custom_routes_file_is_validated(tmp_path: Path):
    # Given a route without its consent mode
    path = tmp_path / "routes.yaml"
    path.write_text("version: 1\nroutes:\n  broken:\n    source: generic\n")

    # When it is loaded through ROUTES_FILE / Then the error names the route and the key
    with pytest.raises(LocalConfigError, match="route 'broken', key 'consent'"):
        load_local_routes(routes_file({"ROUTES_FILE": str(path)}))


def test_an_external_server_takes_its_tokens_and_defaults_the_token_url_to_its_own_origin():
    # Given only the API URL and a refresh grant (no access token, no token URL)
    env = {
        "CC_API_BASE_URL": "http://127.0.0.1:8790/v3/",
        "CC_CLIENT_ID": "id",
        "CC_CLIENT_SECRET": "secret",
        "CC_REFRESH_TOKEN": "rt",
    }

    # When the settings are read
    external = constant_contact_env(env)

    # Then the token URL is on the same server, and a placeholder token makes the first call refresh
    assert external is not None
    assert external.api_base_url == "http://127.0.0.1:8790/v3"
    assert external.token_url == "http://127.0.0.1:8790/oauth2/default/v1/token"
    assert external.access_token == NO_ACCESS_TOKEN
    assert len(external.notes) == 2
    assert constant_contact_env({}) is None
    assert constant_contact_env({"CC_API_BASE_URL": "https://api.cc.email/v3", "CC_ACCESS_TOKEN": "a"}) is not None
    assert (
        constant_contact_env({"CC_API_BASE_URL": "https://api.cc.email/v3", "CC_ACCESS_TOKEN": "a"}).token_url  # type: ignore[union-attr]
        == DEFAULT_TOKEN_URL
    )


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"CC_API_BASE_URL": "127.0.0.1:8790/v3", "CC_ACCESS_TOKEN": "a"}, "must be an http"),
        ({"CC_API_BASE_URL": "http://127.0.0.1:1/v3"}, "give CC_ACCESS_TOKEN and/or CC_REFRESH_TOKEN"),
        (
            {"CC_API_BASE_URL": "http://127.0.0.1:1/v3", "CC_REFRESH_TOKEN": "rt"},
            "set CC_CLIENT_ID and CC_CLIENT_SECRET",
        ),
    ],
)
def test_an_unusable_external_server_configuration_is_refused(env: dict[str, str], message: str):
    # Given an external server setting the stack cannot work with / When read / Then it says what to set
    with pytest.raises(LocalConfigError, match=message):
        constant_contact_env(env)

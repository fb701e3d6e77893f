"""The routes file: validated at load, errors naming the route and key, defaults, lookup."""

from __future__ import annotations

import msgspec
import pytest
import yaml
from pydantic import ValidationError, create_model

from signup_relay.errors import ConfigError, UnknownRouteError
from signup_relay.receive.sources import SOURCE_NAMES, get_source
from signup_relay.routes import Consent, ConsentField, get_routes, load_routes, parse_routes, pydantic_fields
from tests.unit.sources_support import ROOT, example_routes


def _routes(**route_body):
    return {"version": 1, "routes": {"news": {"source": "generic", "consent": "explicit", **route_body}}}


def test_example_file_has_a_route_for_every_source():
    # Given the documented routes.yaml / When loaded
    routes = example_routes()
    # Then every source kind is used by at least one route, and each source module loads
    assert {route.source for route in routes} == set(SOURCE_NAMES)
    assert all(name == get_source(name).NAME for name in SOURCE_NAMES)


def test_example_routes_have_a_demo_secret_each():
    # Given the demo secrets (local/demo_secrets.json) / Then every example route has one under its secret key
    from local.events.build import demo_secrets

    secrets = demo_secrets()
    assert all(route.secret.key in secrets for route in example_routes())


def test_defaults():
    # Given a minimal route / When parsed
    route = parse_routes(_routes()).get("news")
    # Then the documented defaults apply
    assert route.secret.secret_id == "signup-relay/webhooks"
    assert route.secret.key == "news"
    assert route.lists == () and route.tags == () and route.custom_fields == {}
    assert route.fields.email is None
    assert (route.create_missing_lists, route.allow_clearing, route.allow_create_without_consent) == (False,) * 3
    assert route.options.record_consent_note and route.options.create_missing_tags
    assert not route.options.consent_note_on_sign_up_form
    assert route.account is None and route.too_long == "reject" and route.phone_kind == "mobile"


def test_consent_note_on_sign_up_form_reaches_the_upsert_options():
    # Given a route that pays two calls more to keep the consent note on the sign_up_form path
    route = parse_routes(_routes(consent_note_on_sign_up_form=True)).get("news")
    # Then the queued sign-ups carry that option to the engine
    assert route.options.consent_note_on_sign_up_form


def test_secret_id_default_comes_from_webhook_secret_id(monkeypatch):
    # Given WEBHOOK_SECRET_ID is set
    monkeypatch.setenv("WEBHOOK_SECRET_ID", "acme/webhooks")
    from signup_relay.config import get_settings

    get_settings.cache_clear()
    # When a route without a secret id is parsed / Then it uses that secret
    assert parse_routes(_routes()).get("news").secret.secret_id == "acme/webhooks"


def test_explicit_secret_reference_is_kept():
    # Given a route naming its secret and key
    route = parse_routes(_routes(secret={"id": "signup-relay/webhooks/other", "key": "typeform"})).get("news")
    # Then
    assert (route.secret.secret_id, route.secret.key) == ("signup-relay/webhooks/other", "typeform")


def test_consent_modes():
    # Given the three plain modes and a checkbox mode with YAML booleans as values
    data = yaml.safe_load(
        """
        version: 1
        routes:
          a: {source: generic, consent: explicit}
          b: {source: generic, consent: implicit}
          c: {source: generic, consent: none}
          d: {source: generic, consent: {field: agree, values: [yes, "I agree", true]}}
        """
    )
    routes = parse_routes(data)
    # Then
    assert [routes.get(n).consent for n in "abc"] == [Consent.EXPLICIT, Consent.IMPLICIT, Consent.NONE]
    checkbox = routes.get("d").consent
    assert isinstance(checkbox, ConsentField)
    assert checkbox.values == ("true", "I agree", "true") and checkbox.otherwise == "none"


@pytest.mark.parametrize(
    ("route_body", "named"),
    [
        ({"source": "typeformm"}, "route 'news', key 'source'"),
        ({"consent": "maybe"}, "route 'news', key 'consent'"),
        ({"consent": {"values": ["yes"]}}, "route 'news', key 'consent.field'"),
        ({"secret": "hunter2"}, "route 'news', key 'secret'"),
        ({"lists": "Newsletter"}, "route 'news', key 'lists'"),
        ({"lists": [""]}, "route 'news', key 'lists'"),
        ({"fields": {"emial": "Email"}}, "route 'news', key 'fields.emial'"),
        ({"colour": "blue"}, "route 'news', key 'colour'"),
        ({"too_long": "shorten"}, "route 'news', key 'too_long'"),
        ({"list_field": {"choices": {"a": "A"}}}, "route 'news', key 'list_field.field'"),
    ],
)
def test_invalid_route_names_the_route_and_key(route_body, named):
    # Given a route with one mistake / When parsed / Then ConfigError names the route and the key
    with pytest.raises(ConfigError) as caught:
        parse_routes(_routes(**route_body))
    assert named in str(caught.value)


def test_missing_consent_is_required():
    # Given a route without a consent mode
    data = {"routes": {"news": {"source": "generic"}}}
    # When / Then: consent is a deliberate choice, never a default
    with pytest.raises(ConfigError, match="route 'news', key 'consent': Field required"):
        parse_routes(data)


def test_inline_secret_message_says_secrets_are_never_inline():
    with pytest.raises(ConfigError, match="never written in the routes file"):
        parse_routes(_routes(secret="s3cret-value"))


def test_every_problem_is_reported_at_once():
    # Given two bad routes
    data = {"routes": {"a": {"source": "nope", "consent": "explicit"}, "b": {"source": "generic"}}}
    # When / Then both are named
    with pytest.raises(ConfigError) as caught:
        parse_routes(data)
    assert "route 'a', key 'source'" in str(caught.value) and "route 'b', key 'consent'" in str(caught.value)


@pytest.mark.parametrize("name", ["Typeform", "has space", "a/b", "x" * 65, ""])
def test_route_names_must_be_url_path_segments(name):
    with pytest.raises(ConfigError, match="URL path segment"):
        parse_routes({"routes": {name: {"source": "generic", "consent": "explicit"}}})


def test_unknown_route_is_404_error():
    # Given the example routes / When an unknown name is looked up / Then UnknownRouteError (404)
    with pytest.raises(UnknownRouteError) as caught:
        example_routes().get("no-such-form")
    assert caught.value.status == 404


def test_unreadable_and_invalid_yaml_files_fail_with_config_error(tmp_path):
    # Given a missing file and a file that is not YAML
    broken = tmp_path / "routes.yaml"
    broken.write_text("routes: {a: [\n")
    # When / Then
    with pytest.raises(ConfigError, match="cannot read routes file"):
        load_routes(tmp_path / "absent.yaml")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_routes(broken)


def test_get_routes_reads_routes_file_once(tmp_path, monkeypatch):
    # Given ROUTES_FILE points at a routes file
    path = tmp_path / "routes.yaml"
    path.write_text((ROOT / "routes.yaml").read_text())
    monkeypatch.setenv("ROUTES_FILE", str(path))
    get_routes.cache_clear()
    try:
        # When loaded twice with the file removed in between
        first = get_routes()
        path.unlink()
        # Then the cached routes are returned
        assert get_routes() is first
        assert "typeform-newsletter" in first
    finally:
        get_routes.cache_clear()


class _Options(msgspec.Struct, kw_only=True):
    needed: bool
    names: tuple[str, ...] = ()
    extra: dict[str, str] = msgspec.field(default_factory=dict)


def test_option_fields_keep_required_and_factory_defaults_as_route_keys() -> None:
    # Given a Struct with a required field, a plain default and a default factory, as route keys
    model = create_model("Model", **pydantic_fields(_Options))
    # Then a missing required key is an error, and the defaults are the Struct's own (never msgspec's NODEFAULT)
    with pytest.raises(ValidationError):
        model()
    assert model(needed=True).model_dump() == {"needed": True, "names": (), "extra": {}}

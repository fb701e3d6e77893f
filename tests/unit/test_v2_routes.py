"""Routes with `api: v2`: custom field names are V2's CustomField1..CustomField15, checked when the file loads."""

from __future__ import annotations

from typing import Any

import pytest

from signup_relay.errors import ConfigError
from signup_relay.routes import parse_routes


def _route(**keys: Any) -> dict[str, Any]:
    return {"routes": {"legacy": {"source": "generic", "consent": "explicit", "lists": ["News"], **keys}}}


def test_a_v2_route_maps_form_fields_to_v2_custom_fields_and_carries_api() -> None:
    routes = parse_routes(_route(api="v2", custom_fields={"referral": "CustomField1", "size": "CustomField15"}))
    assert routes.get("legacy").options.api == "v2"


@pytest.mark.parametrize("name", ["Favourite colour", "CustomField0", "CustomField16", "customfield1", "CustomField01"])
def test_any_other_custom_field_name_is_refused_naming_the_route_key_and_value(name: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_routes(_route(api="v2", custom_fields={"colour": name}))
    assert "route 'legacy', key 'custom_fields'" in raised.value.message
    assert repr(name) in raised.value.message and "CustomField1..CustomField15" in raised.value.message


def test_consent_evidence_fields_are_checked_too() -> None:
    with pytest.raises(ConfigError, match="key 'consent_custom_fields'.*at: 'Consent date'"):
        parse_routes(_route(api="v2", consent_custom_fields={"at": "Consent date", "ip": "CustomField9"}))


def test_v3_routes_keep_their_names_and_the_default_api_is_the_accounts() -> None:
    routes = parse_routes(_route(custom_fields={"colour": "Favourite colour"}))
    assert routes.get("legacy").options.api is None
    with pytest.raises(ConfigError, match="key 'api'"):
        parse_routes(_route(api="v1"))

"""Whatever arrives, receiving it raises only the typed receive errors (a 4xx), never anything else (a 500)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from signup_relay.errors import ReceiveError
from signup_relay.models import RawRequest, Signup
from signup_relay.receive.intake import receive_submission
from signup_relay.receive.mapping import map_submission
from signup_relay.receive.sources import SOURCE_NAMES, get_source
from signup_relay.routes import parse_routes

NOW = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
SECRET = "property-test-secret-0123456789"
WHSEC = "whsec_cHJvcGVydHktdGVzdC1zZWNyZXQtMDEyMzQ1Njc4OQ=="
CONTENT_TYPES = [
    "application/json",
    "application/json; charset=utf-8",
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=B",
    "multipart/form-data",
    "text/xml",
    "",
]
# Keys the parsers look for, so generated payloads reach deep into each shape.
KEYS = [
    "email", "name", "first_name", "Email", "form_response", "answers", "definition", "fields", "field", "ref", "id",
    "type", "text", "choice", "choices", "labels", "other", "hidden", "data", "payload", "schema", "fieldName",
    "fieldType", "eventId", "key", "label", "value", "options", "submission", "questions", "urlParameters",
    "properties", "subscriptionType", "rawRequest", "q3_name", "q4_email", "first", "last", "month", "day", "year",
    "full", "area", "phone", "Form", "Entry", "Id", "Name", "FirstAndLast", "namedValues", "response", "title",
    "event_id", "_date", "consent", "lists", "birthday", "UniqueID", "FormID", "data.json", "HandshakeKey",
    "FieldStructure", "FormStructure", "Fields", "SubFields", "ID", "Label", "Title", "1.3", "2", "4.1",
    "fields[email][value]", "fields[email][type]", "form[id]", "meta[remote_ip][value]", "date_submitted",
    "time_submitted", "ip_address", "submittedAt", "createdAt", "DateSubmitted", "value[]",
]  # fmt: skip

json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=20), st.sampled_from(KEYS)
)
json_keys = st.sampled_from(KEYS) | st.text(max_size=8)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(json_keys, children, max_size=5),
    max_leaves=25,
)
form_pairs = st.lists(
    st.tuples(st.sampled_from(KEYS) | st.text(max_size=8), st.text(max_size=30) | json_values.map(json.dumps)),
    max_size=8,
)


def _route(source: str):
    body = {
        "source": source,
        "consent": {"field": "consent"},
        "list_field": {"field": "lists"},
        "custom_fields": {"name": "Name", "data": "Data"},
        "fields": {"birthday": "birthday"},
        "consent_custom_fields": {"at": "At", "ip": "IP"},
    }
    return parse_routes({"routes": {"r": body}}).get("r")


ROUTES = {source: _route(source) for source in SOURCE_NAMES}


def _secret(source: str) -> str:
    return WHSEC if source == "standard_webhooks" else SECRET


def _only_typed_errors(source: str, request: RawRequest, *, verify: bool) -> None:
    route = ROUTES[source]
    try:
        if verify:
            result = receive_submission(route, request, secret=_secret(source), now=NOW)
        else:
            result = map_submission(get_source(source).parse(request), route, now=NOW, secret=_secret(source))
    except ReceiveError:
        return
    assert isinstance(result, Signup)


def _multipart(pairs: list[tuple[str, str]]) -> bytes:
    parts = [f'--B\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n' for k, v in pairs]
    return ("".join(parts) + "--B--\r\n").encode("utf-8", "surrogatepass")


PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize("source", SOURCE_NAMES)
@PROPERTY
@given(
    body=st.binary(max_size=300),
    content_type=st.sampled_from(CONTENT_TYPES) | st.text(max_size=30),
    headers=st.dictionaries(st.text(max_size=30).map(str.lower), st.text(max_size=60), max_size=6),
    query=st.dictionaries(st.sampled_from(["token", "x"]), st.text(max_size=40), max_size=2),
)
def test_arbitrary_requests_raise_only_typed_errors(source, body, content_type, headers, query):
    # Given any body, headers and query, with or without the right token
    request = RawRequest(headers={**headers, "content-type": content_type}, query=query, body=body)
    # When received (verify + parse + map) / Then only a typed receive error, never another exception
    _only_typed_errors(source, request, verify=True)


@pytest.mark.parametrize("source", SOURCE_NAMES)
@PROPERTY
@given(payload=json_values, content_type=st.sampled_from(["application/json", "text/plain"]))
def test_arbitrary_json_payloads_parse_and_map_or_fail_typed(source, payload, content_type):
    # Given any JSON document, past authentication
    request = RawRequest(headers={"content-type": content_type}, body=json.dumps(payload).encode())
    # When parsed and mapped / Then only a typed receive error, never another exception
    _only_typed_errors(source, request, verify=False)


@pytest.mark.parametrize("source", SOURCE_NAMES)
@PROPERTY
@given(pairs=form_pairs, multipart=st.booleans())
def test_arbitrary_forms_parse_and_map_or_fail_typed(source, pairs, multipart):
    # Given any URL-encoded or multipart form (values may be JSON documents, as Jotform/Unbounce/Wufoo embed them)
    if multipart:
        request = RawRequest(headers={"content-type": "multipart/form-data; boundary=B"}, body=_multipart(pairs))
    else:
        body = urlencode(pairs).encode()
        request = RawRequest(headers={"content-type": "application/x-www-form-urlencoded"}, body=body)
    # When parsed and mapped / Then only a typed receive error, never another exception
    _only_typed_errors(source, request, verify=False)


@PROPERTY
@given(raw_request=json_values, envelope=form_pairs)
def test_jotform_raw_request_of_any_shape(raw_request, envelope):
    # Given a Jotform multipart delivery whose rawRequest part is any JSON document
    body = _multipart([*envelope, ("rawRequest", json.dumps(raw_request))])
    request = RawRequest(headers={"content-type": "multipart/form-data; boundary=B"}, body=body)
    # When parsed and mapped / Then only typed errors
    _only_typed_errors("jotform", request, verify=False)


@PROPERTY
@given(data=json_values, page=form_pairs)
def test_unbounce_data_json_of_any_shape(data, page):
    # Given an Unbounce post whose data.json is any JSON document
    request = RawRequest(
        headers={"content-type": "application/x-www-form-urlencoded"},
        body=urlencode([*page, ("data.json", json.dumps(data))]).encode(),
    )
    # When parsed and mapped / Then only typed errors
    _only_typed_errors("unbounce", request, verify=False)

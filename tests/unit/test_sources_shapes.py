"""Past authentication, whatever a sender submits becomes a sign-up or a typed 4xx, never a 500.

The property test mutates every source's events/ sample (any value replaced by nested lists and objects, huge
integers, long strings, deep nesting) or replaces it with an arbitrary JSON, form or multipart body, signs or
tokens it the way the sender does, and receives it with `accept_webhook`: verify, parse, map, and the DLQ record
of what cannot be used. The examples below it are the shapes that once crashed a parser.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from random import Random
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from msgspec.structs import replace

from local.events.build import demo_secrets, event_body, load_event
from local.events.signers import SIGNERS, sign_headers
from signup_relay.errors import ReceiveError, SignatureError, SubmissionInvalidError, UndecodableBodyError
from signup_relay.models import RawRequest
from signup_relay.receive.intake import accept_webhook
from signup_relay.receive.sources import SOURCE_NAMES, TOKEN_HEADER
from signup_relay.receive.sources._common import decode_fields
from tests.unit.fake_queues import FakeDlq, FakeQueue
from tests.unit.sources_support import example_routes, request_from_event

# Each source's events/ sample: <source>_signup.json, but HubSpot's workflow sample is named for what it carries.
SAMPLES = {source: f"{source}_signup.json" for source in SOURCE_NAMES} | {"hubspot": "hubspot_contact.json"}
JSON_TYPE = "application/json"
FORM_TYPE = "application/x-www-form-urlencoded"
MULTIPART_TYPE = "multipart/form-data; boundary=B"
MAX_BODY_BYTES = 262_144


@dataclass(frozen=True)
class RawJson:
    """JSON text written as is: integers beyond Python's 4,300-digit limit, nesting deeper than the stack."""

    text: str


def dumps(value: Any) -> str:
    if isinstance(value, RawJson):
        return value.text
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(str(k))}:{dumps(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(dumps(v) for v in value) + "]"
    return json.dumps(value)


sizes = st.sampled_from([5, 100, 4_300, 4_301, 5_000, 20_000])
plain_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(max_size=20),
    st.sampled_from(["ada@example.com", "yes", "1", "q1_date", "email", "options", "id", "Field1"]),
)
nasty_scalars = st.one_of(
    sizes.map(lambda n: "x" * n),  # long strings
    sizes.map(lambda n: "1" * n),  # long digit strings (a Jotform month, a timestamp)
    sizes.map(lambda n: RawJson("9" * n)),  # huge integers
    sizes.map(lambda n: RawJson("[" * n + "]" * n)),  # deep nesting
)
json_scalars = plain_scalars | nasty_scalars
json_keys = st.sampled_from(["id", "email", "value", "label", "month", "day", "year", "type", "text"]) | st.text(
    max_size=8
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(json_keys, children, max_size=4),
    max_leaves=12,
)
# Uniform rolls for where to mutate: Hypothesis' own integers favour the edges, which here means the root.
dice = st.randoms(use_true_random=True)
chances = st.sampled_from([0.03, 0.1, 0.25])  # how many of a sample's nodes are changed
form_values = st.text(max_size=40) | json_values.map(dumps)
form_pairs = st.lists(st.tuples(st.text(max_size=10), form_values), max_size=6)
KINDS = {"mutated": 6, "json": 1, "form": 1, "multipart": 1, "nested_multipart": 1}  # weights


@cache
def sample(source: str) -> tuple[dict[str, Any], str, str]:
    """The source's events/ sample, its route name and the route's secret."""
    event = load_event(SAMPLES[source], fresh=False)
    route = event["pathParameters"]["route"]
    return event, route, demo_secrets()[route]


def mutate(data: st.DataObject, value: Any, chance: float, rolls: Random) -> Any:
    """`value` with each leaf, by `chance` (containers less often, to keep the shape around them), replaced by an
    arbitrary JSON value, wrapped in a list or an object, or stretched (a "06" month to 5,000 digits)."""
    container = isinstance(value, dict | list)
    roll = rolls.random() * (4 if container else 1) / chance
    if roll < 1 / 4:
        return data.draw(json_values)
    if roll < 2 / 4:
        return [value]
    if roll < 3 / 4:
        return {"value": value}
    if roll < 1:
        text = (value if isinstance(value, str) else dumps(value)) or "1"
        stretched = text * (data.draw(sizes) // len(text) + 1)
        return stretched if isinstance(value, str) else RawJson(stretched) if isinstance(value, int) else value
    if isinstance(value, dict):
        return {key: mutate(data, child, chance, rolls) for key, child in value.items()}
    if isinstance(value, list):
        return [mutate(data, child, chance, rolls) for child in value]
    return value


def mutate_pairs(data: st.DataObject, pairs: list[tuple[str, str]], rolls: Random) -> list[tuple[str, str]]:
    """Form fields with JSON values mutated inside (Jotform's rawRequest, Unbounce's data.json, Wufoo's
    structures), one other value replaced, and arbitrary fields added."""
    chance = data.draw(chances)
    mutated = []
    for name, value in pairs:
        try:
            inner = json.loads(value)
        except ValueError:
            inner = None
        mutated.append((name, dumps(mutate(data, inner, chance, rolls)) if isinstance(inner, dict | list) else value))
    if mutated:
        index = rolls.randrange(len(mutated))
        mutated[index] = (mutated[index][0], data.draw(form_values))
    return mutated + data.draw(form_pairs)


def multipart(pairs: list[tuple[str, str]]) -> bytes:
    parts = [f'--B\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n' for name, value in pairs]
    return ("".join(parts) + "--B--\r\n").encode("utf-8", "surrogatepass")


def nested_multipart(depth: int) -> bytes:
    """Multipart parts nested `depth` deep: each level one multipart/mixed part holding the next."""
    opening = "".join(f"--B{i}\r\nContent-Type: multipart/mixed; boundary=B{i + 1}\r\n\r\n" for i in range(depth))
    return (opening.replace("B0", "B", 1) + f"--B{depth}--\r\n").encode()


def body_for(source: str, data: st.DataObject) -> tuple[bytes, str]:
    """A body and its content type: the sample mutated, or an arbitrary JSON, form or multipart body."""
    event, _, _ = sample(source)
    content_type = event["headers"]["content-type"]
    raw = event_body(event)
    rolls = data.draw(dice)
    [kind] = rolls.choices(list(KINDS), weights=list(KINDS.values()))
    if kind == "mutated" and content_type.startswith("application/json"):
        mutated = mutate(data, json.loads(raw), data.draw(chances), rolls)
        return dumps(mutated).encode("utf-8", "surrogatepass"), content_type
    if kind == "mutated":
        pairs = mutate_pairs(data, decode_fields(RawRequest(headers={"content-type": content_type}, body=raw)), rolls)
        if content_type.startswith("multipart/"):
            return multipart(pairs), MULTIPART_TYPE
        return urlencode(pairs, errors="surrogatepass").encode(), content_type
    if kind == "json":
        return dumps(data.draw(json_values)).encode("utf-8", "surrogatepass"), JSON_TYPE
    if kind == "form":
        return urlencode(data.draw(form_pairs), errors="surrogatepass").encode(), FORM_TYPE
    if kind == "multipart":
        return multipart(data.draw(form_pairs)), MULTIPART_TYPE
    return nested_multipart(rolls.choice([1, 20, 1_000, 3_000])), MULTIPART_TYPE


def authenticated(source: str, body: bytes, content_type: str, now: datetime) -> RawRequest:
    """The request the source's sender makes for `body`: signed with the route secret, or carrying its token."""
    event, _, secret = sample(source)
    event = {**event, "headers": {**event["headers"], "content-type": content_type}}
    if source in SIGNERS:
        auth = sign_headers(source, event, body, secret, int(now.timestamp()))
    else:
        auth = {TOKEN_HEADER: secret}
    request = request_from_event(event, body=body)
    return replace(request, headers={**request.headers, **auth})


def receive(source: str, body: bytes, content_type: str, queue: FakeQueue, dlq: FakeDlq) -> None:
    """`accept_webhook` for an authenticated delivery of `body` to the source's sample route."""
    now = datetime.now(UTC)
    _, route, secret = sample(source)
    accept_webhook(
        route,
        authenticated(source, body, content_type, now),
        routes=example_routes(),
        fetch_secret=lambda ref: secret,
        queue=queue,
        dlq=dlq,
        max_body_bytes=MAX_BODY_BYTES,
        clock=lambda: now,
    )


def kept_body(dlq: FakeDlq) -> bytes:
    [record] = dlq.records
    return base64.b64decode(record.body_base64 or "")


PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize("source", SOURCE_NAMES)
@PROPERTY
@given(data=st.data())
def test_authenticated_bodies_of_any_shape_are_accepted_or_refused_with_a_4xx(source: str, data: st.DataObject):
    # Given a body of any shape, signed or tokened the way this source's sender does it
    body, content_type = body_for(source, data)
    queue, dlq = FakeQueue(), FakeDlq()

    # When receive takes it (verify, parse, map, then queue or keep)
    try:
        receive(source, body, content_type, queue, dlq)
    except ReceiveError as error:
        # Then a refusal is a 4xx past authentication; what is kept in the DLQ holds no copy of the route secret
        assert not isinstance(error, SignatureError), error.message
        assert 400 <= error.status < 500
        assert len(dlq.records) == (1 if error.keep_in_dlq else 0)
        if dlq.records:
            secret = sample(source)[2].encode()
            assert not any(copy in kept_body(dlq) for copy in (secret, base64.b64encode(secret).rstrip(b"=")))
    else:
        # Or it is queued
        assert len(queue.sent) == 1 and dlq.records == []


def _json(value: Any) -> tuple[bytes, str]:
    return json.dumps(value).encode(), JSON_TYPE


def _jotform(raw_request: dict[str, Any]) -> tuple[bytes, str]:
    return multipart([("formID", "243491234567890"), ("rawRequest", json.dumps(raw_request))]), MULTIPART_TYPE


MULTIPART_SOURCES = ("elementor", "formstack", "generic", "gravity_forms", "jotform", "unbounce", "wufoo")
# Shapes that crashed a parser with a 500: a list where an id belongs (a dict key), a month of 5,000 digits
# (int() refuses it), a thousand nested multipart parts or header comments (the stdlib email parser once used for
# multipart recursed once per level).
CRASHES = {
    "typeform list ids": (
        "typeform",
        _json(
            {
                "form_response": {
                    "definition": {"fields": [{"id": ["f1"], "title": "Email"}]},
                    "answers": [{"type": "email", "email": "ada@example.com", "field": {"id": ["f1"]}}],
                }
            }
        ),
        SubmissionInvalidError,
    ),
    "tally list option id": (
        "tally",
        _json({"data": {"fields": [{"key": "q1", "value": ["o1"], "options": [{"id": ["o1"], "text": "x"}]}]}}),
        SubmissionInvalidError,
    ),
    "webflow object field name": (
        "webflow",
        _json({"payload": {"data": {"Name": "Ada"}, "schema": [{"fieldName": {"a": 1}, "fieldType": "FormEmail"}]}}),
        SubmissionInvalidError,
    ),
    "jotform 5,000-digit month": (
        "jotform",
        _jotform({"q4_email": "ada@example.com", "q6_birthday": {"month": "1" * 5000, "day": "16", "year": "1902"}}),
        SubmissionInvalidError,
    ),
    "comments 3,000 deep in a part header": (
        "generic",
        (
            b'--B\r\nContent-Disposition: form-data; name="email" ' + b"(" * 3000 + b"\r\n\r\nx\r\n--B--\r\n",
            MULTIPART_TYPE,
        ),
        UndecodableBodyError,
    ),
    **{
        f"nested multipart ({source})": (source, (nested_multipart(1000), MULTIPART_TYPE), UndecodableBodyError)
        for source in MULTIPART_SOURCES
    },
}


@pytest.mark.parametrize(("source", "delivery", "refusal"), CRASHES.values(), ids=CRASHES.keys())
def test_shapes_that_crashed_a_parser_are_refused_and_kept(source, delivery, refusal):
    # Given an authenticated delivery of a shape that once raised an untyped error
    body, content_type = delivery
    queue, dlq = FakeQueue(), FakeDlq()

    # When receive takes it
    with pytest.raises(refusal) as refused:
        receive(source, body, content_type, queue, dlq)

    # Then it is refused with its 4xx and kept in the DLQ with the reason, nothing queued
    assert refused.value.status in (400, 422)
    [record] = dlq.records
    assert (record.error_class, record.message) == (refused.value.error_class, refused.value.message)
    assert kept_body(dlq) == body and queue.sent == []

"""Random requests to the local stack over real HTTP: never a 5xx, and every 4xx says why in a JSON body.

Methods, paths under /hooks/ (routes that exist and not, with query strings), headers (the route token or a wrong
one, signature headers, arbitrary ones), content types, bodies (JSON, forms, multipart, bytes that are not UTF-8)
and Content-Length (right, missing, not a number, negative, over the quota, two of them, chunked) vary together.
"""

from __future__ import annotations

import json
from urllib.parse import quote

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from local.events.build import demo_secrets
from local.stack import LocalStack
from tests.local.raw_http import exchange, request_bytes

SECRETS = demo_secrets()
ROUTES = sorted(SECRETS)
# Weighted lists: most requests are POSTs with a readable length, to a route that exists, with its token.
METHODS = ["POST"] * 16 + ["GET", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "TRACE"]
CONTENT_TYPES = [
    "application/json",
    "application/json; charset=utf-8",
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=B",
    "multipart/form-data",
    "application/octet-stream",
    "text/xml",
    "image/png",
]
LENGTHS = ["right"] * 14 + ["missing", "not a number", "negative", "over the quota", "twice", "chunked"]

header_names = st.from_regex(r"[A-Za-z][A-Za-z0-9-]{0,20}", fullmatch=True).filter(
    lambda name: name.lower() not in ("content-length", "transfer-encoding", "host", "expect")
)
header_values = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"), max_size=60)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20) | st.just("ada@example.com"),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=10,
)
emails = st.from_regex(r"[a-z0-9.]{1,12}@example\.(com|org)", fullmatch=True)
bodies = st.one_of(
    st.binary(max_size=500),
    json_values.map(lambda value: json.dumps(value).encode()),
    st.dictionaries(st.sampled_from(["email", "first_name", "consent", "token"]), st.text(max_size=20)).map(
        lambda fields: json.dumps(fields).encode()
    ),
    st.binary(max_size=40).map(lambda junk: b'{"email": "ada@example.com", "first_name": "' + junk + b'\xff"}'),
    st.lists(st.tuples(st.text(max_size=8), st.text(max_size=20)), max_size=4).map(
        lambda pairs: "&".join(f"{quote(k)}={quote(v)}" for k, v in pairs).encode()
    ),
    st.lists(st.tuples(st.text(max_size=8), st.binary(max_size=20)), max_size=3).map(
        lambda parts: (
            b"".join(
                b'--B\r\nContent-Disposition: form-data; name="%s"\r\n\r\n%s\r\n' % (k.encode(), v) for k, v in parts
            )
            + b"--B--\r\n"
        )
    ),
)


@st.composite
def requests(draw: st.DrawFn) -> tuple[str, bytes]:
    """A method and the raw request."""
    method = draw(st.sampled_from(METHODS))
    route = draw(st.sampled_from(ROUTES * 4) | st.from_regex(r"[A-Za-z0-9._~%!$'()*+,;=:@-]{1,30}", fullmatch=True))
    query = draw(
        st.sampled_from(["", "?token=wrong", f"?token={quote(SECRETS.get(route, 'x'))}", "?email=ada%40example.com&x"])
    )
    headers = [("Content-Type", draw(st.sampled_from(CONTENT_TYPES) | header_values))]
    token = draw(st.sampled_from([None, "right", "right", "wrong"]))
    if token:
        headers.append(("X-Signup-Relay-Token", SECRETS.get(route, "x") if token == "right" else "not-the-token"))
    headers += draw(
        st.lists(
            st.tuples(
                st.sampled_from(["Typeform-Signature", "Tally-Signature", "webhook-id", "X-Webflow-Timestamp"])
                | header_names,
                header_values,
            ),
            max_size=4,
        )
    )
    body = draw(bodies)
    if draw(st.integers(0, 4)) == 0:  # a sign-up Zapier could send: some requests get all the way to the queue
        route, query = "generic", ""
        headers = [("Content-Type", "application/json"), ("X-Signup-Relay-Token", SECRETS[route])]
        body = json.dumps({"email": draw(emails), "first_name": draw(st.text(max_size=20)), "consent": "yes"}).encode()
    length = draw(st.sampled_from(LENGTHS))
    if length == "chunked":
        headers.append(("Transfer-Encoding", "chunked"))
        body = (b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)) if body else b"0\r\n\r\n"
    else:
        value = {
            "right": str(len(body)),
            "not a number": "ten",
            "negative": f"-{len(body)}",
            "over the quota": str(11 * 1024 * 1024),
            "twice": str(len(body)),
        }.get(length)
        if value is not None:
            headers.append(("Content-Length", value))
        if length == "twice":
            headers.append(("Content-Length", str(len(body) + 1)))
        if length == "over the quota":
            body = b""  # announced, never sent: the answer must come without waiting for it
    return method, request_bytes(method, f"/hooks/{route}{query}", headers, body, length=False)


EXAMPLES = 200


def test_random_requests_never_get_a_5xx_and_every_4xx_explains_itself_in_json(shared_stack: LocalStack):
    answers: list[int] = []

    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(request=requests())
    def send(request: tuple[str, bytes]) -> None:
        # Given any request under /hooks/
        method, raw = request

        # When it is sent to the local stack
        answer = exchange(shared_stack.port, raw, method=method)
        answers.append(answer.status)

        # Then it is not a server error, and a refusal carries a JSON object naming the problem
        assert answer.status < 500, (answer.status, answer.body[:200])
        if 400 <= answer.status < 500 and method != "HEAD":
            body = json.loads(answer.body)
            assert isinstance(body, dict) and ("error" in body or "message" in body), body

    send()

    # And the requests reached acceptance, authentication, the handler's own refusals and API Gateway's (this
    # fails if the strategies stop reaching them)
    assert len(answers) >= EXAMPLES
    assert {200, 401, 404} <= set(answers)
    assert {400, 413, 415, 422} & set(answers)
    assert all(status < 500 for status in answers)

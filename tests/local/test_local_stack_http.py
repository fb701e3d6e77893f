"""The local stack answers, over real HTTP, every request the way API Gateway's HTTP API would.

API Gateway base64-encodes a body that is not text (text that is not UTF-8 included), answers its own errors as
JSON `{"message": ...}` (400 for a request it cannot read, 404 for a method and path no route has, 413 over the
10 MB payload quota), and reads chunked bodies.
"""

from __future__ import annotations

import base64
import hashlib
import json
import urllib.request

import pytest

from local.events.build import demo_secrets
from local.stack import LocalStack
from tests.local.raw_http import exchange, request_bytes

TOKEN = demo_secrets()["generic"]
AUTHENTICATED = [("Content-Type", "application/json"), ("X-Signup-Relay-Token", TOKEN)]
SIGNUP = json.dumps({"email": "chunked.sender@example.com", "first_name": "Chunk", "consent": "yes"}).encode()


def dlq_records(stack: LocalStack) -> list[dict]:
    with urllib.request.urlopen(f"{stack.url}/_local/status") as response:
        return json.loads(response.read())["dlq"]["records"]


def test_text_body_that_is_not_utf8_reaches_the_handler_and_gets_its_own_400(shared_stack: LocalStack):
    # Given an authenticated JSON delivery whose bytes are not UTF-8
    body = b'{"email": "ada@example.com", "first_name": "\xffda"}'

    # When it is posted to the local stack
    answer = exchange(shared_stack.port, request_bytes("POST", "/hooks/generic", AUTHENTICATED, body))

    # Then receive itself refuses it (not the server), and the DLQ keeps the very bytes that were sent
    assert (answer.status, answer.json()["error"]) == (400, "undecodable_body")
    [record] = [r for r in dlq_records(shared_stack) if r.get("queued_id") == hashlib.sha256(body).hexdigest()]
    assert base64.b64decode(record["body_base64"]) == body


@pytest.mark.parametrize("length", ["abc", "-5", "1e3", "+12", "", "5, 5", "³"])
def test_content_length_that_is_not_a_number_answers_400_json(shared_stack: LocalStack, length: str):
    # Given a request whose Content-Length is not a non-negative number
    raw = request_bytes("POST", "/hooks/generic", [*AUTHENTICATED, ("Content-Length", length)], b"{}", length=False)

    # When it is sent / Then API Gateway's JSON 400, and the connection closes (the body's end is unknown)
    answer = exchange(shared_stack.port, raw)
    assert (answer.status, answer.json()) == (400, {"message": "Bad Request"})
    assert answer.headers["content-type"] == "application/json"
    assert answer.headers["connection"] == "close"


def test_two_different_content_lengths_answer_400_json(shared_stack: LocalStack):
    raw = request_bytes(
        "POST", "/hooks/generic", [("Content-Length", "2"), ("Content-Length", "3")], b"{}", length=False
    )
    answer = exchange(shared_stack.port, raw)
    assert (answer.status, answer.json()) == (400, {"message": "Bad Request"})


@pytest.mark.parametrize("length", [str(10 * 1024 * 1024 + 1), "9" * 40])
def test_content_length_over_the_payload_quota_answers_413_json(shared_stack: LocalStack, length: str):
    # Given a request announcing more than the HTTP API's 10 MB payload quota / When sent, without its body
    raw = request_bytes("POST", "/hooks/generic", [("Content-Length", length)], length=False)
    answer = exchange(shared_stack.port, raw)
    # Then 413 in API Gateway's JSON, at once
    assert (answer.status, answer.json()) == (413, {"message": "Request Entity Too Large"})


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "PROPFIND"])
def test_methods_without_a_route_answer_api_gateways_json_404(shared_stack: LocalStack, method: str):
    # Given a method the template gives /hooks/{route} no route for
    raw = request_bytes(method, "/hooks/generic", AUTHENTICATED, b'{"email": "ada@example.com"}')

    # When it is sent / Then 404 {"message": "Not Found"} as JSON, not the stdlib's HTML 501
    answer = exchange(shared_stack.port, raw, method=method)
    assert (answer.status, answer.json()) == (404, {"message": "Not Found"})
    assert answer.headers["content-type"] == "application/json"


def test_head_answers_404_with_headers_and_no_body(shared_stack: LocalStack):
    answer = exchange(shared_stack.port, request_bytes("HEAD", "/hooks/generic"), method="HEAD")
    assert (answer.status, answer.body) == (404, b"")
    assert answer.headers["content-type"] == "application/json"
    assert answer.headers["content-length"] == str(len(b'{"message":"Not Found"}'))


def test_chunked_body_is_read_as_api_gateway_reads_it(shared_stack: LocalStack):
    # Given a sign-up sent with Transfer-Encoding: chunked, in two chunks with an extension and a trailer
    half = len(SIGNUP) // 2
    chunked = b"%x;ext=1\r\n%s\r\n%x\r\n%s\r\n0\r\nX-Trailer: 1\r\n\r\n" % (
        half,
        SIGNUP[:half],
        len(SIGNUP) - half,
        SIGNUP[half:],
    )
    raw = request_bytes(
        "POST", "/hooks/generic", [*AUTHENTICATED, ("Transfer-Encoding", "chunked")], chunked, length=False
    )

    # When it is sent / Then it is accepted under the hash of the whole body
    answer = exchange(shared_stack.port, raw)
    assert (answer.status, answer.json()) == (200, {"accepted": True, "id": hashlib.sha256(SIGNUP).hexdigest()})


@pytest.mark.parametrize("chunked", [b"zz\r\n{}\r\n0\r\n\r\n", b"5\r\n{}\r\n0\r\n\r\n", b"2\r\n{}XX0\r\n\r\n"])
def test_malformed_chunked_body_answers_400_json(shared_stack: LocalStack, chunked: bytes):
    raw = request_bytes("POST", "/hooks/generic", [("Transfer-Encoding", "chunked")], chunked, length=False)
    answer = exchange(shared_stack.port, raw)
    assert (answer.status, answer.json()) == (400, {"message": "Bad Request"})


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (b"GARBAGE\r\n\r\n", 400),
        (b"POST  HTTP/1.1\r\n\r\n", 400),
        (b"POST /hooks/generic HTTP/x.y\r\n\r\n", 400),
        (b"POST /hooks/generic HTTP/9.9\r\n\r\n", 505),  # RFC 9110 §15.6.6: the status for exactly this
    ],
)
def test_unreadable_request_line_answers_json(shared_stack: LocalStack, raw: bytes, status: int):
    # Given a request line the server cannot read / When sent / Then a status line and a JSON body, not HTML
    answer = exchange(shared_stack.port, raw)
    assert answer.status == status
    assert set(answer.json()) == {"message"}

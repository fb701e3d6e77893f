"""What API Gateway's HTTP API does around the function, for the local stack: serve HTTP, read the request body,
answer its own JSON errors, build the payload v2 event and write the answer.

- Payload v2 event: https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html
  (the body is base64-encoded, `isBase64Encoded`, unless it is text; text that is not UTF-8 is not text).
- Quotas: https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-quotas.html (payload 10 MB).
- Its own answers are JSON `{"message": ...}`: 404 "Not Found" for a method and path no route has, 400 "Bad Request"
  for a request it cannot read, 413 for a payload over the quota, 500 when the function fails.
"""

from __future__ import annotations

import base64
import re
import sys
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from local.template import HttpRoute

ACCOUNT_ID = "123456789012"
API_ID = "local"
TEXT_TYPES = ("text/", "application/json", "application/x-www-form-urlencoded", "application/xml", "+json", "+xml")
MAX_PAYLOAD_BYTES = 10 * 1024 * 1024
MESSAGES = {400: "Bad Request", 404: "Not Found", 413: "Request Entity Too Large", 500: "Internal Server Error"}
DIGITS = re.compile(r"[0-9]{1,12}")  # a Content-Length; 12 digits are far past the quota
CHUNK_SIZE = re.compile(rb"[0-9A-Fa-f]{1,8}")
JSON = {"content-type": "application/json"}
# A client that stops sending mid-request does not hold a server thread for ever.
READ_TIMEOUT_SECONDS = 10


class GatewayRefusal(Exception):
    """A request API Gateway answers itself, before any function runs."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


def gateway_server(host: str, port: int, handle: Callable[[BaseHTTPRequestHandler, str], None]) -> ThreadingHTTPServer:
    """An HTTP/1.1 server (not started) that gives every request, whatever its method, to `handle(request, method)`."""

    class RequestHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        default_request_version = "HTTP/1.1"  # even a garbled request line gets a status line back
        disable_nagle_algorithm = True  # headers and body go out in two writes: avoid the 40 ms delayed-ACK stall
        timeout = READ_TIMEOUT_SECONDS

        def __getattr__(self, name: str) -> Any:
            # Every method reaches the routes (do_GET, do_DELETE, do_PATCH, do_FOO...): API Gateway answers
            # a method no route has with its JSON 404, not the stdlib's HTML 501.
            if name.startswith("do_"):
                return lambda: handle(self, name[3:])
            raise AttributeError(name)

        def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
            # The stdlib's own refusals (a malformed request line, overlong headers) as API Gateway's JSON.
            reply(self, code, JSON, gateway_answer(code), close=True)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
            pass  # the handlers log each request themselves

    server = ThreadingHTTPServer((host, port), RequestHandler)
    server.daemon_threads = True
    return server


def reply(
    request: BaseHTTPRequestHandler, status: int, headers: dict[str, str], body: bytes, *, close: bool = False
) -> None:
    """Write an answer; Content-Length and Connection are the server's to set."""
    request.send_response(status)
    for name, value in headers.items():
        if name.lower() not in ("content-length", "connection"):
            request.send_header(name, value)
    request.send_header("content-length", str(len(body)))
    if close:
        request.send_header("connection", "close")
        request.close_connection = True
    request.end_headers()
    if getattr(request, "command", None) != "HEAD":  # a HEAD answer has the headers of a GET, no body
        request.wfile.write(body)


def answer_route(
    request: BaseHTTPRequestHandler,
    method: str,
    path: str,
    body: bytes,
    routes: list[HttpRoute],
    invoke: Callable[[str, dict[str, Any]], Any],
) -> None:
    """The integration: the matching route's function (`invoke(function, event)`) gets the payload v2 event and its
    answer goes back; 404 when no route matches, 500 when the function fails."""
    route = next((r for r in routes if r.match(method, path) is not None), None)
    if route is None:
        reply(request, 404, JSON, gateway_answer(404))
        return
    headers: dict[str, str] = {}
    for name, value in request.headers.items():
        key = name.lower()
        headers[key] = f"{headers[key]},{value}" if key in headers else value
    event = api_gateway_event(route, method, request.path, headers, body, request.client_address[0])
    try:
        result = invoke(route.function, event)
    except Exception as error:  # what API Gateway answers when the function itself fails
        print(f"[local] {route.function} raised {type(error).__name__}: {error}", file=sys.stderr)
        reply(request, 500, JSON, gateway_answer(500))
        return
    raw = result.get("body") or ""
    payload = base64.b64decode(raw) if result.get("isBase64Encoded") else raw.encode("utf-8")
    reply(request, int(result.get("statusCode", 200)), dict(result.get("headers") or {}), payload)


def gateway_answer(status: int) -> bytes:
    """API Gateway's own JSON body for `status`."""
    message = MESSAGES.get(status) or HTTPStatus(status).phrase
    return b'{"message":"' + message.encode() + b'"}'


def read_body(request: BaseHTTPRequestHandler) -> bytes:
    """The request's body (Content-Length or chunked); GatewayRefusal(400) when it cannot be read, 413 over the
    payload quota. After a refusal the connection cannot be reused: where the body ends is unknown."""
    if "chunked" in (request.headers.get("transfer-encoding") or "").lower():
        return _read_chunked(request)
    lengths = set(request.headers.get_all("content-length") or ())
    if not lengths:
        return b""
    if len(lengths) > 1:  # two lengths: which one frames the body is unknowable
        raise GatewayRefusal(400)
    [raw_length] = lengths
    if not DIGITS.fullmatch(raw_length.strip()):  # not a number, negative, or absurdly long
        raise GatewayRefusal(413 if raw_length.strip().isascii() and raw_length.strip().isdigit() else 400)
    length = int(raw_length)
    if length > MAX_PAYLOAD_BYTES:
        raise GatewayRefusal(413)
    body = _read(request, length)
    if len(body) < length:  # the client stopped sending (or closed) before the announced length
        raise GatewayRefusal(400)
    return body


def _read(request: BaseHTTPRequestHandler, length: int) -> bytes:
    try:
        return request.rfile.read(length)
    except OSError:  # the handler's read timeout, or a reset connection
        raise GatewayRefusal(400) from None


def _read_chunked(request: BaseHTTPRequestHandler) -> bytes:
    """A `Transfer-Encoding: chunked` body (https://www.rfc-editor.org/rfc/rfc9112#section-7.1)."""
    body = bytearray()
    try:
        while True:
            size_line = request.rfile.readline(1024).split(b";", 1)[0].strip()
            if not CHUNK_SIZE.fullmatch(size_line):
                raise GatewayRefusal(400)
            size = int(size_line, 16)
            if size == 0:
                break
            if len(body) + size > MAX_PAYLOAD_BYTES:
                raise GatewayRefusal(413)
            chunk = _read(request, size)
            if len(chunk) < size or request.rfile.readline(3).strip():
                raise GatewayRefusal(400)
            body += chunk
        while request.rfile.readline(8192).strip():  # trailer fields, up to the blank line
            pass
    except OSError:
        raise GatewayRefusal(400) from None
    return bytes(body)


def api_gateway_event(
    route: HttpRoute, method: str, url: str, headers: dict[str, str], body: bytes, source_ip: str
) -> dict[str, Any]:
    """An API Gateway HTTP API payload v2 event, as the real integration builds it."""
    parts = urlsplit(url)
    path_parameters = route.match(method, parts.path) or {}
    now = datetime.now(UTC)
    content_type = headers.get("content-type", "").lower()
    text = _as_text(body) if not body or any(kind in content_type for kind in TEXT_TYPES) else None
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route.route_key,
        "rawPath": parts.path,
        "rawQueryString": parts.query,
        "headers": headers,
        "requestContext": {
            "accountId": ACCOUNT_ID,
            "apiId": API_ID,
            "domainName": headers.get("host", "127.0.0.1"),
            "domainPrefix": API_ID,
            "http": {
                "method": method,
                "path": parts.path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": headers.get("user-agent", ""),
            },
            "requestId": base64.b64encode(uuid.uuid4().bytes[:10]).decode(),
            "routeKey": route.route_key,
            "stage": "$default",
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now.timestamp() * 1000),
        },
        "pathParameters": path_parameters,
        "body": text if text is not None else base64.b64encode(body).decode("ascii"),
        "isBase64Encoded": text is None,
    }
    if parts.query:
        query: dict[str, str] = {}
        for name, value in parse_qsl(parts.query, keep_blank_values=True):
            query[name] = f"{query[name]},{value}" if name in query else value
        event["queryStringParameters"] = query
    if not body:
        del event["body"]
    return event


def _as_text(body: bytes) -> str | None:
    """A text body as the event carries it; None when it is not UTF-8 (it then travels base64-encoded)."""
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return None

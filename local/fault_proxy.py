"""A reverse proxy on 127.0.0.1 that forwards to one upstream (the sandbox) and injects faults at a seeded rate.

Each request is forwarded as it came (method, path, query, headers including Authorization, body) and answered
with what the upstream sent, unless a fault is drawn for it:

- `error_status`: 500, 502, 503 or 504 with a JSON error body, and nothing forwarded;
- `dropped`: the connection closed without an answer, and nothing forwarded;
- `lost_answer`: forwarded (the upstream applies the write), then the connection closed without the answer.

Used by the fault suite (tests/faults/) and by hand: `python -m local.fault_proxy --upstream http://127.0.0.1:8790`.
Hand-written on purpose: a test tool that must drop connections at chosen points, which no maintained proxy library
offers in-process.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import random
import socket
import threading
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from local.background_server import BackgroundServer, ToolHTTPServer, ToolRequestHandler

ERROR_STATUS = "error_status"
DROPPED = "dropped"
LOST_ANSWER = "lost_answer"
FAULT_KINDS = (ERROR_STATUS, DROPPED, LOST_ANSWER)
ERROR_STATUSES = (500, 502, 503, 504)
OAUTH_PREFIX = "/oauth2/"
UPSTREAM_TIMEOUT_SECONDS = 30.0
# Hop-by-hop headers (RFC 9110 §7.6.1) belong to one connection; Host and Content-Length are set per hop.
HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade", "host"}
    | {"content-length", "proxy-authenticate", "proxy-authorization"}
)


@dataclass(frozen=True)
class FaultEvent:
    """One injected fault: which kind, on which request (target = path and query), and the status if any."""

    kind: str
    method: str
    target: str
    status: int | None = None
    upstream_status: int | None = None  # lost_answer: what the upstream answered before the drop


class FaultProxy(BackgroundServer):
    """`with FaultProxy(upstream, rate=0.3, seed=7) as proxy:` point clients at `proxy.proxied(url)`.

    `rate` (settable at any time; 0 turns faults off) is the share of requests that get a fault; the kind is drawn
    uniformly from `kinds`, or from the first `path_kinds` prefix that matches the request path (an empty tuple:
    never faulted there). `counts` has one counter per fault kind and `forwarded`; `faults` lists each fault.
    """

    def __init__(
        self,
        upstream: str,
        *,
        rate: float = 0.0,
        seed: int = 0,
        kinds: Sequence[str] = FAULT_KINDS,
        path_kinds: Mapping[str, Sequence[str]] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        parts = urlsplit(upstream)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"upstream must be an http:// URL, got {upstream!r}")
        for chosen in (kinds, *(path_kinds or {}).values()):
            if unknown := set(chosen) - set(FAULT_KINDS):
                raise ValueError(f"unknown fault kinds {sorted(unknown)}; known: {FAULT_KINDS}")
        self.upstream_host = parts.hostname
        self.upstream_port = parts.port or 80
        self.upstream_prefix = parts.path.rstrip("/")
        self.rate = rate
        self.kinds = tuple(kinds)
        self.path_kinds = {prefix: tuple(chosen) for prefix, chosen in (path_kinds or {}).items()}
        self.host = host
        self._requested_port = port
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self.counts: Counter[str] = Counter()
        self.faults: list[FaultEvent] = []

    # --- lifecycle ---------------------------------------------------------------------------

    thread_name = "fault-proxy"

    def _make_server(self) -> _ProxyServer:
        server = _ProxyServer((self.host, self._requested_port), _Handler)
        server.proxy = self
        return server

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def proxied(self, upstream_url: str) -> str:
        """`upstream_url` (on the upstream's host) as reached through this proxy."""
        parts = urlsplit(upstream_url)
        path = parts.path
        if self.upstream_prefix and path.startswith(self.upstream_prefix):
            path = path[len(self.upstream_prefix) :]
        return urlunsplit(("http", f"{self.host}:{self.port}", path, parts.query, ""))

    def snapshot(self) -> dict[str, int]:
        """The counters now: every fault kind (0 when none) and `forwarded` (answers passed through)."""
        with self._lock:
            return {kind: self.counts[kind] for kind in (*FAULT_KINDS, "forwarded")}

    # --- decisions ---------------------------------------------------------------------------

    def _draw(self, path: str) -> tuple[str | None, int]:
        """The fault for one request (None: forward it) and the status an error_status answers with."""
        kinds = next((chosen for prefix, chosen in self.path_kinds.items() if path.startswith(prefix)), self.kinds)
        with self._lock:
            roll = self._random.random()
            kind = self._random.choice(kinds) if kinds else None
            status = self._random.choice(ERROR_STATUSES)
        return (kind if roll < self.rate else None), status

    def _note(self, event: FaultEvent | None) -> None:
        with self._lock:
            if event is None:
                self.counts["forwarded"] += 1
            else:
                self.counts[event.kind] += 1
                self.faults.append(event)

    def _forward(
        self, method: str, target: str, headers: Iterable[tuple[str, str]], body: bytes
    ) -> tuple[int, str, list[tuple[str, str]], bytes]:
        connection = http.client.HTTPConnection(
            self.upstream_host, self.upstream_port, timeout=UPSTREAM_TIMEOUT_SECONDS
        )
        try:
            connection.putrequest(method, self.upstream_prefix + target, skip_accept_encoding=True)
            for name, value in headers:
                if name.lower() not in HOP_BY_HOP:
                    connection.putheader(name, value)
            if body or method in ("POST", "PUT", "PATCH"):
                connection.putheader("Content-Length", str(len(body)))
            connection.endheaders(body or None)
            response = connection.getresponse()
            payload = response.read()
            kept = [(name, value) for name, value in response.getheaders() if name.lower() not in HOP_BY_HOP]
            return response.status, response.reason, kept, payload
        finally:
            connection.close()


def error_body(status: int, path: str) -> bytes:
    """What a failing gateway in front of the API answers: the V3 error array, or the OAuth error object."""
    if path.startswith(OAUTH_PREFIX):
        body: Any = {"error": "temporarily_unavailable", "error_description": f"Injected {status}."}
    else:
        body = [{"error_key": "server_error", "error_message": f"Injected {status} by the fault proxy."}]
    return json.dumps(body).encode()


class _ProxyServer(ToolHTTPServer):
    proxy: FaultProxy


class _Handler(ToolRequestHandler):
    server: _ProxyServer
    timeout = 60

    def _proxy(self) -> None:
        proxy = self.server.proxy
        body = self.read_body()
        path = urlsplit(self.path).path
        kind, status = proxy._draw(path)
        if kind == DROPPED:
            proxy._note(FaultEvent(DROPPED, self.command, self.path))
            self._drop()
            return
        if kind == ERROR_STATUS:
            proxy._note(FaultEvent(ERROR_STATUS, self.command, self.path, status=status))
            self._answer(status, "", [("Content-Type", "application/json")], error_body(status, path))
            return
        try:
            forwarded = proxy._forward(self.command, self.path, self.headers.items(), body)
        except OSError as error:  # the upstream itself is down: what a gateway says, not an injected fault
            message = [{"error_key": "bad_gateway", "error_message": f"upstream unreachable: {error}"}]
            self._answer(502, "", [("Content-Type", "application/json")], json.dumps(message).encode())
            return
        upstream_status, reason, headers, payload = forwarded
        if kind == LOST_ANSWER:
            proxy._note(FaultEvent(LOST_ANSWER, self.command, self.path, upstream_status=upstream_status))
            self._drop()
            return
        proxy._note(None)
        self._answer(upstream_status, reason, headers, payload)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _proxy

    def _answer(self, status: int, reason: str, headers: list[tuple[str, str]], payload: bytes) -> None:
        self.send_response_only(status, reason or None)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if payload and self.command != "HEAD":
            self.wfile.write(payload)

    def _drop(self) -> None:
        """Close the connection with no answer: the client sees the remote end disconnect."""
        self.close_connection = True
        with contextlib.suppress(OSError):  # the client may already have gone
            self.connection.shutdown(socket.SHUT_RDWR)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m local.fault_proxy", description=__doc__.splitlines()[0])
    parser.add_argument("--upstream", required=True, help="e.g. http://127.0.0.1:8790 (make sandbox)")
    parser.add_argument("--port", type=int, default=8791)
    parser.add_argument("--rate", type=float, default=0.3, help="share of requests that get a fault")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--kinds", default=",".join(FAULT_KINDS), help=f"comma-separated, of {FAULT_KINDS}")
    args = parser.parse_args(argv)
    proxy = FaultProxy(
        args.upstream, rate=args.rate, seed=args.seed, kinds=[k for k in args.kinds.split(",") if k], port=args.port
    ).start()
    print(f"fault proxy {proxy.url} -> {args.upstream} (rate {proxy.rate}, kinds {','.join(proxy.kinds)})", flush=True)
    try:
        proxy.serve_until_signalled()
    finally:
        print(f"faults: {proxy.snapshot()}", flush=True)


if __name__ == "__main__":
    main()

"""Raw HTTP/1.1 exchanges with the local stack: any method, any header, a Content-Length that lies."""

from __future__ import annotations

import http.client
import json
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def request_bytes(
    method: str, target: str, headers: Sequence[tuple[str, str]] = (), body: bytes = b"", *, length: bool = True
) -> bytes:
    """A request as it goes on the wire; `length` adds the right Content-Length (leave it out to send your own)."""
    lines = [f"{method} {target} HTTP/1.1", "Host: 127.0.0.1", *(f"{name}: {value}" for name, value in headers)]
    if length and body:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def exchange(port: int, raw: bytes, *, method: str = "POST", timeout: float = 20) -> Answer:
    """Send `raw` on a new connection and read the first answer (a closed connection without one raises)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as connection:
        connection.sendall(raw)
        response = http.client.HTTPResponse(connection, method=method)
        response.begin()
        return Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())

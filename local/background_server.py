"""An HTTP server of the local tools, serving in a daemon thread: start/stop, a with-block, its port.

Shared by the Constant Contact sandbox and the fault proxy; stdlib `http.server` because both must control every
byte and connection they answer (status codes, dropped connections), which a framework would hide.
"""

from __future__ import annotations

import signal
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self


class ToolHTTPServer(ThreadingHTTPServer):
    """A tool's server: request threads never keep the process alive, and a restart may reuse the port."""

    daemon_threads = True
    allow_reuse_address = True


class ToolRequestHandler(BaseHTTPRequestHandler):
    """A tool's request handler: keep-alive HTTP/1.1, the body read whole, no stderr log (the tools keep their own)."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in two writes: avoid the 40 ms delayed-ACK stall

    def read_body(self) -> bytes:
        """The request body (by Content-Length; empty without one)."""
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        """Quiet: each tool keeps its own record (the sandbox's request_log, the proxy's faults)."""


class BackgroundServer:
    """Subclasses set `host`, `_requested_port` (0 = a free port), `thread_name` and build their server."""

    host: str
    _requested_port: int
    thread_name = "local-server"
    poll_interval = 0.05
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    def _make_server(self) -> ThreadingHTTPServer:
        """The server to run, bound to (host, _requested_port)."""
        raise NotImplementedError

    def _bound(self) -> None:
        """Called once the port is known, before the first request is served."""

    def start(self) -> Self:
        if self._server is not None:
            return self
        self._server = self._make_server()
        self._bound()
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": self.poll_interval},
            name=self.thread_name,
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError(f"{type(self).__name__} is not started; use start() or a with-block")
        return int(self._server.server_address[1])

    def serve_until_signalled(self) -> None:
        """Run (started) until SIGTERM or SIGINT, then stop: the command-line form of the tool."""
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        try:
            while not stop.wait(0.5):
                pass
        finally:
            self.stop()

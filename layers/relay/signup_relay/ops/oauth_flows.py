"""The two OAuth2 authorization flows `connect` offers, both asking for `offline_access contact_data`.

- device flow: a verification URL and a user code, then polling the token endpoint at the server's interval
  (works over SSH and in CloudShell: the browser can be on another device);
- authorization code with PKCE: a listener on 127.0.0.1 for the redirect, `state` checked, the code exchanged
  with its verifier.

Constant Contact's guide: https://developer.constantcontact.com/api_guide/auth_overview.html
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TextIO
from urllib.parse import parse_qs, urlencode, urlsplit

import requests

from signup_relay.clock import SYSTEM_CLOCK, Clock
from signup_relay.config import DEFAULT_TOKEN_URL
from signup_relay.errors import RelayError
from signup_relay.tokens.endpoint import OAuthError, TokenGrant, json_object, post_token_request

DEFAULT_AUTHORIZE_URL = "https://authz.constantcontact.com/oauth2/default/v1/authorize"
DEFAULT_DEVICE_URL = "https://authz.constantcontact.com/oauth2/default/v1/device/authorize"
DEFAULT_REDIRECT_URI = "http://127.0.0.1:8765/callback"
SCOPES = ("offline_access", "contact_data")
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
REQUEST_TIMEOUT = (5.0, 30.0)


class ConnectError(RelayError):
    """The authorization did not produce a usable grant; the message tells the person what to do."""

    error_class = "connect"


@dataclass(frozen=True)
class ConnectOptions:
    secret_id: str
    client_id: str
    client_secret: str = ""
    flow: str = "device"
    refresh_token_type: str = "rotating"
    authorize_url: str = DEFAULT_AUTHORIZE_URL
    token_url: str = DEFAULT_TOKEN_URL
    device_url: str = DEFAULT_DEVICE_URL
    redirect_uri: str = DEFAULT_REDIRECT_URI
    region: str | None = None
    dry_run: bool = False
    open_browser: bool = True
    timeout_seconds: float = 300.0  # an authorization code lives 5 minutes
    scopes: tuple[str, ...] = SCOPES


def authorize_device(
    options: ConnectOptions, *, http: requests.Session, clock: Clock = SYSTEM_CLOCK, out: TextIO = sys.stdout
) -> TokenGrant:
    """OAuth2 device flow: show the code, poll until approved, denied or expired."""
    try:
        response = http.post(
            options.device_url,
            data={"client_id": options.client_id, "scope": " ".join(options.scopes)},
            headers={"Accept": "application/json"},
            timeout=REQUEST_TIMEOUT,
        )
    except requests.RequestException as exc:
        raise ConnectError(f"Could not reach {options.device_url}: {type(exc).__name__}") from exc
    start = json_object(response)
    if response.status_code != 200 or "device_code" not in start:
        raise ConnectError(
            f"The device authorization request was refused ({response.status_code} {start.get('error', '')}: "
            f"{start.get('error_description', '')}). Check the API key and that the app allows the Device Flow."
        )
    interval = float(start.get("interval") or 5)
    deadline = clock.time() + float(start.get("expires_in") or 600)
    complete = start.get("verification_uri_complete")
    print(
        "To connect your Constant Contact account, open this page in any browser:\n"
        f"    {start.get('verification_uri')}\n"
        f"and enter the code:  {start.get('user_code')}\n" + (f"(or open {complete} directly)\n" if complete else ""),
        file=out,
        flush=True,
    )
    print(f"Waiting for approval (polling every {interval:g} s)...", file=out, flush=True)
    while True:
        clock.sleep(interval)
        try:
            return post_token_request(
                http,
                options.token_url,
                {"grant_type": DEVICE_GRANT, "device_code": str(start["device_code"])},
                client_id=options.client_id,
            )
        except OAuthError as exc:
            if exc.error == "authorization_pending":
                if clock.time() > deadline:
                    raise _expired_device_code() from exc
                continue
            if exc.error == "slow_down":
                interval += 5  # RFC 8628 §3.5
                continue
            if exc.error == "access_denied":
                raise ConnectError(
                    "Access was denied on the Constant Contact approval page, so nothing was stored. "
                    "Run connect again and choose Allow."
                ) from exc
            if exc.error == "expired_token":
                raise _expired_device_code() from exc
            raise _token_refused(exc) from exc


def _expired_device_code() -> ConnectError:
    return ConnectError(
        "The code expired before it was approved, so nothing was stored. Run connect again and approve "
        "the new code within its lifetime."
    )


# --- authorization code with PKCE ------------------------------------------------------------------


def pkce_pair() -> tuple[str, str]:
    """(code_verifier, S256 code_challenge) per RFC 7636."""
    verifier = secrets.token_urlsafe(64)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    return verifier, challenge


class RedirectListener:
    """A one-shot HTTP listener on 127.0.0.1 for the authorization redirect."""

    def __init__(self, redirect_uri: str) -> None:
        parts = urlsplit(redirect_uri)
        if parts.scheme != "http" or parts.hostname not in ("127.0.0.1", "localhost"):
            raise ConnectError(f"--redirect-uri must be http://127.0.0.1:<port>/<path> (got {redirect_uri})")
        self.path = parts.path or "/"
        self.params: dict[str, str] | None = None
        self._done = threading.Event()
        listener = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                parts = urlsplit(self.path)
                if parts.path != listener.path or listener._done.is_set():
                    self.send_error(404)
                    return
                listener.params = {k: v[0] for k, v in parse_qs(parts.query).items()}
                ok = "code" in listener.params
                body = (
                    "<h1>signup-relay</h1><p>"
                    + ("Authorized. You can close this window." if ok else "Not authorized. See the terminal.")
                    + "</p>"
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                listener._done.set()

            def log_message(self, format: str, *args: Any) -> None:  # the query holds the code: keep it quiet
                return

        try:
            self._server = ThreadingHTTPServer(("127.0.0.1", parts.port or 80), Handler)
        except OSError as exc:
            raise ConnectError(f"Cannot listen on 127.0.0.1:{parts.port} for the redirect: {exc}") from exc
        port = self._server.server_address[1]
        self.redirect_uri = f"http://{parts.hostname}:{port}{self.path}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="connect-redirect", daemon=True
        )

    def __enter__(self) -> RedirectListener:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def wait(self, timeout: float) -> dict[str, str] | None:
        self._done.wait(timeout)
        return self.params


def authorize_pkce(
    options: ConnectOptions,
    *,
    http: requests.Session,
    open_url: Callable[[str], object] | None = None,
    out: TextIO = sys.stdout,
) -> TokenGrant:
    """Authorization code flow with PKCE and a redirect to 127.0.0.1."""
    verifier, challenge = pkce_pair()
    state = secrets.token_urlsafe(24)
    with RedirectListener(options.redirect_uri) as listener:
        query = {
            "client_id": options.client_id,
            "redirect_uri": listener.redirect_uri,
            "response_type": "code",
            "scope": " ".join(options.scopes),
            "state": state,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
        url = f"{options.authorize_url}?{urlencode(query)}"
        print(
            "To connect your Constant Contact account, sign in and allow access at:\n"
            f"    {url}\n"
            f"(waiting up to {options.timeout_seconds:g} s for the redirect to {listener.redirect_uri})",
            file=out,
            flush=True,
        )
        if open_url is not None:
            open_url(url)
        params = listener.wait(options.timeout_seconds)
    if params is None:
        raise ConnectError(
            "No redirect came back in time, so nothing was stored. Run connect again; check that the app's "
            f"redirect URI in the Constant Contact developer portal is exactly {listener.redirect_uri}."
        )
    if params.get("state") != state:
        raise ConnectError("The redirect carried the wrong state (not the request we started); nothing was stored.")
    if "error" in params:
        if params["error"] == "access_denied":
            raise ConnectError(
                "Access was denied on the Constant Contact approval page, so nothing was stored. "
                "Run connect again and choose Allow."
            )
        raise ConnectError(
            f"Constant Contact answered {params['error']}: {params.get('error_description', '')}. Nothing was stored."
        )
    if not params.get("code"):
        raise ConnectError("The redirect carried no authorization code; nothing was stored.")
    try:
        return post_token_request(
            http,
            options.token_url,
            {
                "grant_type": "authorization_code",
                "code": params["code"],
                "redirect_uri": listener.redirect_uri,
                "code_verifier": verifier,
            },
            client_id=options.client_id,
            client_secret=options.client_secret,
        )
    except OAuthError as exc:
        if exc.error == "invalid_grant":
            raise ConnectError(
                "The authorization code was refused (it expired — codes live 5 minutes — or was already used), "
                "so nothing was stored. Run connect again and finish within 5 minutes."
            ) from exc
        raise _token_refused(exc) from exc


def _token_refused(exc: OAuthError) -> ConnectError:
    return ConnectError(f"The token endpoint refused the request: {exc.error} {exc.description}".rstrip())


# --- the secret -----------------------------------------------------------------------------------

"""Constant Contact's OAuth token endpoint: one POST per grant, paced to its limit of 1 request/s.

See https://developer.constantcontact.com/api_guide/server_flow.html for the grants and their answers.
"""

from __future__ import annotations

import base64
import hashlib
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from signup_relay.caches import per_container
from signup_relay.clock import Clock
from signup_relay.constant_contact.transport import connect_retry
from signup_relay.errors import TransientError
from signup_relay.observability import logger

TOKEN_TIMEOUT = (5.0, 15.0)  # connect, read (seconds)


def fingerprint(token: str) -> str:
    """sha256 hex of a token: what invoke payloads and logs carry instead of the token."""
    return hashlib.sha256(token.encode()).hexdigest()


def mask_token(token: str | None) -> str:
    """A token shown to a person: its length and last 4 characters only."""
    if not token:
        return "<none>"
    return f"****{token[-4:]} ({len(token)} chars)" if len(token) > 12 else "****"


class OAuthError(TransientError):
    """The token endpoint refused a request: `error` is the OAuth error code (`invalid_grant`, ...)."""

    error_class = "oauth"

    def __init__(self, message: str, *, error: str, status: int, description: str = "") -> None:
        super().__init__(message, error=error, status=status)
        self.error = error
        self.status = status
        self.description = description


@dataclass(frozen=True)
class TokenGrant:
    """A token endpoint answer (never logged: tokens inside)."""

    access_token: str
    refresh_token: str | None
    expires_in: int
    scope: str = ""


@per_container(maxsize=1)
def get_token_session() -> requests.Session:
    """The container's session for the token endpoint (requests is shared with the operator tools; an upsert
    loads this module only when it must refresh a token)."""
    session = requests.Session()
    adapter = HTTPAdapter(max_retries=connect_retry(), pool_connections=1, pool_maxsize=2)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


def json_object(response: requests.Response) -> dict[str, Any]:
    """The response body as a JSON object; {} when it is not JSON or not an object (error pages, empty bodies)."""
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def post_token_request(
    http: requests.Session,
    token_url: str,
    form: Mapping[str, str],
    *,
    client_id: str,
    client_secret: str = "",
) -> TokenGrant:
    """POST a grant to the token endpoint: Basic auth when there is a client secret, else client_id in the form."""
    body = dict(form)
    headers = {"Accept": "application/json"}
    if client_secret:
        basic = base64.b64encode(f"{client_id}:{client_secret}".encode()).decode()
        headers["Authorization"] = f"Basic {basic}"
    else:
        body["client_id"] = client_id
    try:
        response = http.post(token_url, data=body, headers=headers, timeout=TOKEN_TIMEOUT)
    except requests.RequestException as exc:
        raise OAuthError(
            f"token endpoint unreachable: {type(exc).__name__}", error="connection_error", status=0
        ) from exc
    payload = json_object(response)
    if response.status_code != 200:
        error = str(payload.get("error") or payload.get("error_key") or f"http_{response.status_code}")
        description = str(payload.get("error_description") or payload.get("error_message") or "")
        raise OAuthError(
            f"token endpoint answered {response.status_code} {error}: {description}".rstrip(": "),
            error=error,
            status=response.status_code,
            description=description,
        )
    access_token = payload.get("access_token")
    if not isinstance(access_token, str) or not access_token:
        raise OAuthError("token endpoint answered 200 without an access_token", error="invalid_response", status=200)
    refresh_token = payload.get("refresh_token")
    return TokenGrant(
        access_token=access_token,
        refresh_token=refresh_token if isinstance(refresh_token, str) and refresh_token else None,
        expires_in=int(payload.get("expires_in") or 86400),
        scope=str(payload.get("scope") or ""),
    )


class TokenRequestGate:
    """At most one token request per interval from this process (the endpoint allows 1 request/s)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last = 0.0

    def wait(self, clock: Clock, *, interval: float, not_before: float = 0.0) -> None:
        """Sleep until `interval` after the last request (this process's, or `not_before` from the secret)."""
        with self._lock:
            earliest = max(self._last + interval, not_before)
            delay = min(earliest - clock.time(), interval)  # a clock jump must not stall us for long
            if delay > 0:
                clock.sleep(delay)
            self._last = clock.time()


TOKEN_GATE = TokenRequestGate()


def spend_refresh_token(
    http: requests.Session,
    token_url: str,
    secret: Mapping[str, Any],
    *,
    clock: Clock,
    min_interval: float,
    not_before: float,
    attempts: int = 3,
) -> TokenGrant:
    """The refresh_token grant, at most one request per `min_interval`; retries 429, 5xx and lost connections."""
    form = {"grant_type": "refresh_token", "refresh_token": str(secret["refresh_token"])}
    last: OAuthError | None = None
    for attempt in range(attempts):
        TOKEN_GATE.wait(clock, interval=min_interval, not_before=not_before)
        try:
            return post_token_request(
                http,
                token_url,
                form,
                client_id=str(secret["client_id"]),
                client_secret=str(secret.get("client_secret") or ""),
            )
        except OAuthError as exc:
            # A lost answer may have spent a rotating refresh token; retrying is still the best chance
            # (an unspent token works, a spent one answers invalid_grant either way).
            retryable = exc.status in (0, 429) or exc.status >= 500
            if not retryable or attempt == attempts - 1:
                raise
            last = exc
            logger.warning(
                "token endpoint failed, retrying",
                extra={"status": exc.status, "error": exc.error, "attempt": attempt + 1},
            )
            clock.sleep(min_interval * (attempt + 1))
    assert last is not None  # pragma: no cover - the loop always returns or raises
    raise last  # pragma: no cover

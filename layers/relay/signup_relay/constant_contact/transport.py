"""The transport every Constant Contact API client shares: typed errors, token handling on 401, pacing, resends
on a 5xx or a lost answer, and call counting. `client` (V3) and `v2_client` add the endpoints.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlencode, urljoin, urlsplit

import urllib3
from urllib3.exceptions import ConnectTimeoutError, HTTPError, MaxRetryError
from urllib3.util.retry import Retry

from signup_relay.caches import per_container
from signup_relay.errors import (
    AuthError,
    ConflictError,
    ForbiddenError,
    NotFoundError,
    PermanentError,
    QuotaExceededError,
    ServerError,
    ThrottledError,
    TransientError,
    ValidationError,
)

CONNECT_TIMEOUT_SECONDS = 3.05
READ_TIMEOUT_SECONDS = 15.0
DEFAULT_REQUESTS_PER_SECOND = 4.0
THROTTLE_BACKOFF_SECONDS = 1.0
THROTTLE_RETRIES = 2
# A 5xx, a dropped connection or a lost answer is tried again inside the attempt, with full jitter.
SERVER_RETRIES = 2
SERVER_BACKOFF_SECONDS = 0.5
# Every call is safe to resend: reads and PUTs are idempotent, sign_up_form appends, a POST whose answer was lost
# meets a 409 (contacts, names) that the caller resolves by a lookup, and Constant Contact sends the resubscribe
# email once per contact ever (a second call answers 409, which the policy reads as "already sent").


class AccessTokenSource(Protocol):
    """Where the client gets its bearer token, and what it asks after a 401 (see `signup_relay.tokens.reader`)."""

    def access_token(self) -> str: ...

    def after_unauthorized(self, stale_access_token: str) -> str: ...


def connect_retry() -> Retry:
    """urllib3 retries connection failures only: nothing was sent yet."""
    return Retry(
        total=2,
        connect=2,
        read=0,
        redirect=0,
        status=0,
        other=0,
        backoff_factor=0.2,
        allowed_methods=None,  # a refused connection never reached the server, so a POST is safe to resend
        raise_on_status=False,
    )


@per_container(maxsize=1)
def get_http() -> urllib3.PoolManager:
    """The container's connection pools: urllib3 itself, which botocore already loads (requests: +15 ms cold)."""
    return urllib3.PoolManager(num_pools=4, maxsize=8, retries=connect_retry())


class Pacer:
    """Spaces request starts so one container stays under `rate_per_second` (0 disables pacing)."""

    def __init__(
        self,
        rate_per_second: float = DEFAULT_REQUESTS_PER_SECOND,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        margin_seconds: float = 0.01,
    ) -> None:
        self.interval = (1.0 / rate_per_second + margin_seconds) if rate_per_second > 0 else 0.0
        self._clock = clock
        self._sleep = sleep
        self._next_start = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        """Block until this caller may start a request (callers are served in arrival order)."""
        if self.interval <= 0:
            return
        with self._lock:
            now = self._clock()
            start = max(now, self._next_start)
            self._next_start = start + self.interval
        if start > now:
            self._sleep(start - now)


@dataclass(eq=False)  # each meter is itself: closing one must never drop an open meter with the same counts
class CallMeter:
    """Constant Contact calls made while the meter was open (each try of a retried call counts)."""

    calls: int = 0
    # Sends whose outcome was unknown (a 5xx, a dropped connection or a lost answer) and that were sent again. The
    # first send may have been applied, so a 409 or an `updated` that answers the resend can be that send's doing.
    # A connection that was never made is not counted: the server saw nothing.
    resent: int = 0


@dataclass(frozen=True)
class ApiErrorDetail:
    status: int
    error_key: str
    error_message: str


def parse_error_body(status: int, body: Any) -> list[ApiErrorDetail]:
    """Both documented error shapes: an array of {error_key, error_message}, or the single 401/429 object."""
    items: list[Any]
    if isinstance(body, list):
        items = body
    elif isinstance(body, dict):
        items = [body]
    else:
        items = []
    details = [
        ApiErrorDetail(status, str(item.get("error_key") or ""), str(item.get("error_message") or ""))
        for item in items
        if isinstance(item, dict)
    ]
    return details or [ApiErrorDetail(status, "", "")]


class ApiTransport:
    """One Constant Contact API over one `urllib3.PoolManager`: pacing, call counting, the 401, rate-limit and
    transient-failure handling, typed errors. Thread-safe. The V3 client below and the V2 client
    (`constant_contact/v2_client.py`) add their endpoints and say how their API reports a rate limit."""

    def __init__(
        self,
        *,
        base_url: str,
        tokens: AccessTokenSource,
        http: urllib3.PoolManager | None = None,
        pacer: Pacer | None = None,
        timeout: tuple[float, float] = (CONNECT_TIMEOUT_SECONDS, READ_TIMEOUT_SECONDS),
        throttle_retries: int = THROTTLE_RETRIES,
        throttle_backoff_seconds: float = THROTTLE_BACKOFF_SECONDS,
        server_retries: int = SERVER_RETRIES,
        server_backoff_seconds: float = SERVER_BACKOFF_SECONDS,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[float, float], float] = random.uniform,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._tokens = tokens
        self._http = http if http is not None else get_http()
        self._pacer = pacer if pacer is not None else Pacer(0)
        self._timeout = urllib3.Timeout(connect=timeout[0], read=timeout[1])
        self._throttle_retries = throttle_retries
        self._throttle_backoff = throttle_backoff_seconds
        self._server_retries = server_retries
        self._server_backoff = server_backoff_seconds
        self._sleep = sleep
        self._jitter = jitter
        self._local = threading.local()

    # --- call counting ---------------------------------------------------------------------------

    @contextmanager
    def meter(self) -> Iterator[CallMeter]:
        """Count the calls this thread makes inside the block (meters nest)."""
        meters: list[CallMeter] = self._local.__dict__.setdefault("meters", [])
        meter = CallMeter()
        meters.append(meter)
        try:
            yield meter
        finally:
            meters.remove(meter)

    def _count_call(self) -> None:
        for meter in self._local.__dict__.get("meters", []):
            meter.calls += 1

    def _count_resend(self) -> None:
        for meter in self._local.__dict__.get("meters", []):
            meter.resent += 1

    # --- transport ---------------------------------------------------------------------------------

    def _url(self, path_or_url: str) -> str:
        if path_or_url.startswith(("http://", "https://")):
            # An absolute `_links` href is followed only on the API's own host: the bearer token goes with it.
            if urlsplit(path_or_url)[:2] != urlsplit(self.base_url)[:2]:
                raise ServerError(
                    f"Constant Contact linked to another host ({urlsplit(path_or_url).netloc}): not followed"
                )
            return path_or_url
        if path_or_url.startswith(urlsplit(self.base_url).path + "/"):  # a server-relative `next` link
            return urljoin(self.base_url + "/", path_or_url)
        return f"{self.base_url}/{path_or_url.lstrip('/')}"

    def request(
        self,
        operation: str,
        method: str,
        path: str,
        *,
        params: Mapping[str, str | int] | None = None,
        json_body: Any = None,
    ) -> Any:
        """One API call with the 401, 429-throttled and transient-failure handling; returns the decoded body.

        Inside the call: a 401 re-reads (or refreshes) the token once; a `throttled` 429 waits 1 s, then 2 s; a
        5xx or a lost connection is sent again (`SERVER_RETRIES` times, full jitter). What is left is raised as a
        typed error for the attempt (upsert/attempt.py) to decide.
        """
        url = self._url(path)
        token = self._tokens.access_token()
        refreshed = False
        throttled = 0
        failed = 0
        while True:
            try:
                response = self._send(operation, method, url, params, json_body, token)
            except ServerError as error:
                if failed >= self._server_retries:
                    raise
                failed += 1
                if not _never_connected(error.__cause__):
                    self._count_resend()
                self._sleep(self._jitter(0, self._server_backoff * 2 ** (failed - 1)))
                continue
            if response.status < 300:
                return _decode(response)
            details = parse_error_body(response.status, _decode_quietly(response))
            if response.status == 401:
                if refreshed:
                    raise AuthError("401 from Constant Contact after a token refresh", operation=operation)
                token = self._tokens.after_unauthorized(token)
                refreshed = True
                continue
            limit = self._rate_limit(response.status, details)
            if limit is ThrottledError and throttled < self._throttle_retries:
                throttled += 1
                self._sleep(self._throttle_backoff * throttled)
                continue
            if response.status >= 500 and failed < self._server_retries:
                failed += 1
                self._count_resend()
                self._sleep(self._jitter(0, self._server_backoff * 2 ** (failed - 1)))
                continue
            raise self._error_for(operation, response.status, details)

    def _rate_limit(self, status: int, details: list[ApiErrorDetail]) -> type[TransientError] | None:
        """ThrottledError / QuotaExceededError when this answer is a rate limit, else None (V3: 429, by error_key)."""
        if status != 429:
            return None
        return QuotaExceededError if _is_quota(details) else ThrottledError

    def _error_for(self, operation: str, status: int, details: list[ApiErrorDetail]) -> Exception:
        return _error_for(operation, status, details, self._rate_limit(status, details))

    def _auth_params(self) -> dict[str, str]:
        """Query parameters every call carries besides the bearer token (V3: none)."""
        return {}

    def _send(
        self,
        operation: str,
        method: str,
        url: str,
        params: Mapping[str, str | int] | None,
        json_body: Any,
        token: str,
    ) -> urllib3.BaseHTTPResponse:
        self._pacer.wait()
        self._count_call()
        headers = {
            "Authorization": f"Bearer {token}",
            "Accept": "application/json",
            "Content-Type": "application/json",
        }
        query = {**self._auth_params(), **(params or {})}
        if query:  # appended to a `next` link's own query, as its cursor must be kept
            url += ("&" if "?" in url else "?") + urlencode(query)
        body = None if json_body is None else json.dumps(json_body, allow_nan=False).encode()
        try:
            # A redirect is answered as an error, never followed: the bearer token goes to the API's URLs only.
            return self._http.request(
                method, url, body=body, headers=headers, timeout=self._timeout, redirect=False, preload_content=True
            )
        except HTTPError as exc:
            raise ServerError(f"{operation}: connection to Constant Contact failed ({type(exc).__name__})") from exc

    def _pages(self, operation: str, path: str, key: str, params: Mapping[str, str | int]) -> Iterator[dict[str, Any]]:
        """The items of a cursor-paginated collection, page by page via `_links.next`."""
        body = self.request(operation, "GET", path, params=params) or {}
        yield from body.get(key) or []
        while (next_href := ((body.get("_links") or {}).get("next") or {}).get("href")) and isinstance(next_href, str):
            body = self.request(operation, "GET", next_href) or {}
            yield from body.get(key) or []

    def _collect(self, operation: str, path: str, key: str, params: Mapping[str, str | int]) -> list[dict[str, Any]]:
        """Every item of a cursor-paginated collection."""
        return list(self._pages(operation, path, key, params))


def _never_connected(error: BaseException | None) -> bool:
    """A connection refused, unresolved or timed out while connecting (urllib3's own retries spent): nothing sent."""
    reason = error.reason if isinstance(error, MaxRetryError) else error
    return isinstance(reason, ConnectTimeoutError)  # NewConnectionError and NameResolutionError are ones too


def _decode(response: urllib3.BaseHTTPResponse) -> Any:
    if not response.data:
        return None
    try:
        return json.loads(response.data)
    except ValueError as exc:
        raise ServerError(f"Constant Contact answered {response.status} with a body that is not JSON") from exc


def _decode_quietly(response: urllib3.BaseHTTPResponse) -> Any:
    try:
        return json.loads(response.data) if response.data else None
    except ValueError:
        return None


def _is_quota(details: list[ApiErrorDetail]) -> bool:
    return any(d.error_key == "quota_exceeded" for d in details)


def _describe(details: list[ApiErrorDetail]) -> str:
    return "; ".join(f"{d.error_key}: {d.error_message}".strip(": ") for d in details if d.error_key or d.error_message)


def _error_for(
    operation: str, status: int, details: list[ApiErrorDetail], rate_limit: type[TransientError] | None
) -> Exception:
    """The typed error for a non-success status (401 and resent rate limits are handled by the caller)."""
    described = _describe(details)
    message = f"{operation}: Constant Contact answered {status}" + (f" ({described})" if described else "")
    extra: dict[str, Any] = {
        "status": status,
        "operation": operation,
        "error_key": details[0].error_key,
        "error_message": details[0].error_message,
    }
    if rate_limit is not None:
        return rate_limit(message, **extra)
    if status == 409:
        return ConflictError(message, **extra)
    if status in (400, 415):
        return ValidationError(message, **extra)
    if status == 401:
        return AuthError(message, **extra)
    if status == 403:
        return ForbiddenError(message, **extra)
    if status == 404:
        return NotFoundError(message, **extra)
    if status >= 500:
        return ServerError(message, **extra)
    return PermanentError(message, **extra)

"""OAuth tokens for Constant Contact: read the account secret, recover from a 401, and refresh the pair.

The secret (design §7) is JSON: client_id, client_secret, access_token, refresh_token, expires_at (epoch s),
refresh_token_type (rotating | long_lived).

Readers (`TokenProvider`) cache it briefly through Powertools Parameters. After a 401 they re-read it once
(another writer may already have refreshed), and only if the token is still the stale one they ask the
refresher: a callable `request_refresh(account_secret_id, stale_access_token) -> None` that must leave a
newer token in the secret. `InProcessRefresher` does that here with `refresh_tokens()`; the single-writer
token-refresh function replaces it later without changing anything else.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from functools import lru_cache
from typing import Any, Protocol

import boto3
import requests
from aws_lambda_powertools.utilities import parameters
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError, TransformParameterError
from botocore.exceptions import BotoCoreError, ClientError

from signup_relay.errors import (
    AuthError,
    PermanentError,
    ReauthorizationRequiredError,
    ServerError,
    ThrottledError,
)

Refresher = Callable[[str, str], None]
"""`request_refresh(account_secret_id, stale_access_token)`: afterwards the secret holds a newer access token."""

SECRET_KEYS = ("client_id", "client_secret", "access_token", "refresh_token", "expires_at", "refresh_token_type")
TOKEN_ENDPOINT_MIN_INTERVAL_SECONDS = 1.0  # Constant Contact's token endpoint allows 1 request/s
TOKEN_TIMEOUT_SECONDS = (3.05, 15.0)
DEAD_GRANT_ERRORS = frozenset({"invalid_grant", "invalid_client", "unauthorized_client"})


class TokenStore(Protocol):
    """Direct, uncached access to the account secret (the writer must never act on a cached copy)."""

    def read(self, secret_id: str) -> dict[str, Any]: ...

    def write(self, secret_id: str, secret: dict[str, Any]) -> None: ...


@lru_cache(maxsize=1)
def get_secretsmanager_client() -> Any:
    return boto3.client("secretsmanager")


class SecretsManagerTokenStore:
    """The OAuth secret in AWS Secrets Manager: get_secret_value / put_secret_value, no cache."""

    def __init__(self, client: Any | None = None) -> None:
        self._client = client

    @property
    def client(self) -> Any:
        return self._client if self._client is not None else get_secretsmanager_client()

    def read(self, secret_id: str) -> dict[str, Any]:
        try:
            raw = self.client.get_secret_value(SecretId=secret_id)["SecretString"]
        except ClientError as exc:
            raise _secret_error(secret_id, exc) from exc
        except BotoCoreError as exc:
            raise ServerError(f"Secrets Manager unavailable reading {secret_id}") from exc
        return _parse_secret(secret_id, raw)

    def write(self, secret_id: str, secret: dict[str, Any]) -> None:
        try:
            self.client.put_secret_value(SecretId=secret_id, SecretString=json.dumps(secret))
        except (ClientError, BotoCoreError) as exc:
            raise ServerError(f"could not store the refreshed tokens in {secret_id}") from exc


def refresh_tokens(
    secret_id: str,
    *,
    http: requests.Session,
    token_url: str,
    store: TokenStore,
    clock: Callable[[], float] = time.time,
) -> dict[str, Any]:
    """Exchange the stored refresh token for a new pair and store it at once; returns the new secret.

    Raises ReauthorizationRequiredError when the grant is dead (an operator must run `connect` again),
    ThrottledError / ServerError when the token endpoint is busy or down.
    """
    secret = store.read(secret_id)
    try:
        response = http.post(
            token_url,
            auth=(str(secret["client_id"]), str(secret["client_secret"])),
            data={"grant_type": "refresh_token", "refresh_token": str(secret["refresh_token"])},
            headers={"Accept": "application/json"},
            timeout=TOKEN_TIMEOUT_SECONDS,
        )
    except requests.RequestException as exc:
        raise ServerError(f"token endpoint unreachable ({type(exc).__name__})") from exc
    body = _json_or_empty(response)
    if response.status_code >= 300:
        error = str(body.get("error") or "")
        if error in DEAD_GRANT_ERRORS:
            raise ReauthorizationRequiredError(
                f"Constant Contact refused the refresh token ({error}); run `make connect` to authorize again",
                secret_id=secret_id,
                error=error,
            )
        if response.status_code == 429:
            raise ThrottledError("token endpoint throttled (1 request/s)", status=429)
        if response.status_code >= 500:
            raise ServerError(f"token endpoint answered {response.status_code}", status=response.status_code)
        raise AuthError(f"token endpoint answered {response.status_code} ({error or 'no error code'})")
    access_token = body.get("access_token")
    if not isinstance(access_token, str) or not access_token:
        raise ServerError("token endpoint answered without an access_token")
    old_refresh = str(secret.get("refresh_token") or "")
    new_refresh = str(body.get("refresh_token") or old_refresh)
    updated = {
        **secret,
        "access_token": access_token,
        "refresh_token": new_refresh,
        "expires_at": int(clock()) + int(body.get("expires_in") or 86400),
        # The same refresh token coming back means the app uses long-lived refresh tokens.
        "refresh_token_type": "long_lived" if new_refresh == old_refresh else "rotating",
    }
    store.write(secret_id, updated)
    return updated


class InProcessRefresher:
    """The default refresher: refresh in this container, one at a time, at most once a second.

    Re-reads the secret under the lock first, so callers that lost a race get the new token
    without a second refresh (essential with rotating refresh tokens).
    """

    def __init__(
        self,
        *,
        http: requests.Session,
        token_url: str,
        store: TokenStore,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._http = http
        self._token_url = token_url
        self._store = store
        self._clock = clock
        self._monotonic = monotonic
        self._sleep = sleep
        self._lock = threading.Lock()
        self._last_call: float | None = None
        self.refreshes = 0

    def __call__(self, account_secret_id: str, stale_access_token: str) -> None:
        with self._lock:
            current = self._store.read(account_secret_id)
            if current.get("access_token") != stale_access_token:
                return
            if self._last_call is not None:
                wait = self._last_call + TOKEN_ENDPOINT_MIN_INTERVAL_SECONDS - self._monotonic()
                if wait > 0:
                    self._sleep(wait)
            self._last_call = self._monotonic()
            refresh_tokens(
                account_secret_id, http=self._http, token_url=self._token_url, store=self._store, clock=self._clock
            )
            self.refreshes += 1


class TokenProvider:
    """Access tokens for one account secret: cached reads, and the 401 recovery the client asks for."""

    def __init__(
        self,
        secret_id: str,
        *,
        refresher: Refresher,
        max_age_seconds: int = 60,
        secrets: parameters.SecretsProvider | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        min_refresh_interval_seconds: float = 1.0,
    ) -> None:
        self.secret_id = secret_id
        self._refresher = refresher
        self._max_age = max_age_seconds
        self._secrets = secrets
        self._monotonic = monotonic
        self._sleep = sleep
        self._min_refresh_interval = min_refresh_interval_seconds
        self._last_refresh_request: float | None = None
        self._lock = threading.Lock()

    def access_token(self) -> str:
        return self._read(force_fetch=False)

    def after_unauthorized(self, stale_access_token: str) -> str:
        """A token to retry with after a 401: a newer stored one, or one the refresher produced."""
        with self._lock:
            fresh = self._read(force_fetch=True)
            if fresh != stale_access_token:
                return fresh
            if self._last_refresh_request is not None:
                wait = self._last_refresh_request + self._min_refresh_interval - self._monotonic()
                if wait > 0:  # never ask more than once a second; the last answer may just be landing
                    self._sleep(wait)
                    fresh = self._read(force_fetch=True)
                    if fresh != stale_access_token:
                        return fresh
            self._last_refresh_request = self._monotonic()
            self._refresher(self.secret_id, stale_access_token)
            fresh = self._read(force_fetch=True)
            if fresh == stale_access_token:
                raise AuthError("the token refresher left the same access token in place", secret_id=self.secret_id)
            return fresh

    def _read(self, *, force_fetch: bool) -> str:
        try:
            if self._secrets is not None:
                value = self._secrets.get(
                    self.secret_id, max_age=self._max_age, transform="json", force_fetch=force_fetch
                )
            else:
                value = parameters.get_secret(
                    self.secret_id, transform="json", max_age=self._max_age, force_fetch=force_fetch
                )
        except TransformParameterError as exc:
            raise PermanentError(f"secret {self.secret_id} is not valid JSON") from exc
        except GetParameterError as exc:
            cause = exc.__cause__ or exc.__context__  # Powertools wraps the boto3 error implicitly
            if isinstance(cause, ClientError):
                raise _secret_error(self.secret_id, cause) from exc
            raise ServerError(f"Secrets Manager unavailable reading {self.secret_id}") from exc
        if not isinstance(value, dict):
            raise PermanentError(f"secret {self.secret_id} is not a JSON object")
        token = value.get("access_token")
        if not isinstance(token, str) or not token:
            raise ReauthorizationRequiredError(
                f"secret {self.secret_id} holds no access_token; run `make connect`", secret_id=self.secret_id
            )
        return token


def _parse_secret(secret_id: str, raw: str) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise PermanentError(f"secret {secret_id} is not valid JSON") from exc
    if not isinstance(value, dict):
        raise PermanentError(f"secret {secret_id} is not a JSON object")
    missing = [key for key in ("client_id", "client_secret", "refresh_token") if not value.get(key)]
    if missing:
        raise ReauthorizationRequiredError(
            f"secret {secret_id} lacks {', '.join(missing)}; run `make connect`", secret_id=secret_id
        )
    return value


def _secret_error(secret_id: str, exc: ClientError) -> Exception:
    code = exc.response.get("Error", {}).get("Code", "")
    if code == "ResourceNotFoundException":
        return ReauthorizationRequiredError(
            f"secret {secret_id} does not exist; run `make connect` to create it", secret_id=secret_id
        )
    if code in ("AccessDeniedException", "DecryptionFailure"):
        return PermanentError(f"no permission to read secret {secret_id} ({code})", secret_id=secret_id)
    return ServerError(f"Secrets Manager error {code} for {secret_id}", secret_id=secret_id)


def _json_or_empty(response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}

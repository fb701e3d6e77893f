"""OAuth tokens for Constant Contact, the reading side: the account secret, and recovery from a 401.

The secret (its fields: docs/token-refresh.md) is JSON: client_id, client_secret, access_token, refresh_token,
expires_at (epoch s), refresh_token_type (rotating | long_lived). A V2 account's secret (`"api": "v2"`) holds an
`api_key` and a long-lived access token instead: after a 401 it is re-read, never refreshed (docs/architecture.md §10).

Readers (`TokenProvider`) cache it briefly through Powertools Parameters. After a 401 they re-read it once
(another writer may already have refreshed), and only if the token is still the stale one they ask the
refresher: a callable `request_refresh(account_secret_id, stale_access_token) -> None` that must leave a
newer token in the secret. Nothing here writes the secret: the refresher is `refreshers.get_refresher()`,
the single writer (docs/token-refresh.md).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities import parameters
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError, TransformParameterError
from botocore.exceptions import ClientError

from signup_relay.errors import AuthError, PermanentError, ReauthorizationRequiredError, ServerError
from signup_relay.tokens.secret_store import API_V2, is_v2_account

Refresher = Callable[[str, str], None]
"""`request_refresh(account_secret_id, stale_access_token)`: afterwards the secret holds a newer access token."""


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

    def api(self) -> str:
        """The API the account speaks: "v2" for a V2 secret, else "v3"."""
        return API_V2 if is_v2_account(self._secret(force_fetch=False)) else "v3"

    def api_key(self) -> str:
        """A V2 account's API key (the `api_key` query parameter of every V2 call)."""
        key = self._secret(force_fetch=False).get("api_key")
        if not isinstance(key, str) or not key:
            raise ReauthorizationRequiredError(
                f"secret {self.secret_id} holds no api_key for the V2 API; run `make connect ARGS='--api v2 "
                f"--secret-id {self.secret_id}'`",
                secret_id=self.secret_id,
            )
        return key

    def secret_field(self, name: str) -> Any:
        """One field of the account secret as last read (e.g. a V2 account's `v3_account`)."""
        return self._secret(force_fetch=False).get(name)

    def after_unauthorized(self, stale_access_token: str) -> str:
        """A token to retry with after a 401: a newer stored one, or one the refresher produced.

        A V2 account's token cannot be refreshed: unless the secret now holds another one (`connect` was run
        again), the 401 is final (ReauthorizationRequiredError: dead-lettered with the fix, no retry storm).
        """
        with self._lock:
            fresh = self._read(force_fetch=True)
            if fresh != stale_access_token:
                return fresh
            if is_v2_account(self._secret(force_fetch=False)):
                raise ReauthorizationRequiredError(
                    f"Constant Contact V2 rejected the access token of secret {self.secret_id} (401: expired or "
                    f"revoked); V2 tokens cannot be refreshed: run `make connect ARGS='--api v2 --secret-id "
                    f"{self.secret_id}'` with a new token, then replay",
                    secret_id=self.secret_id,
                )
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
        value = self._secret(force_fetch=force_fetch)
        token = value.get("access_token")
        if not isinstance(token, str) or not token:
            raise ReauthorizationRequiredError(
                f"secret {self.secret_id} holds no access_token; run `make connect`", secret_id=self.secret_id
            )
        return token

    def _secret(self, *, force_fetch: bool) -> dict[str, Any]:
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

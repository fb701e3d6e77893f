"""How the upsert side asks the single writer for a refresh after a 401 that survived a re-read.

`get_refresher()` gives a `request_refresh(account_secret_id, stale_access_token)`: deployed, a synchronous
invoke of TokenRefreshFunction; in the local stack, the single writer in-process.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from signup_relay.caches import per_container
from signup_relay.clock import SYSTEM_CLOCK, Clock
from signup_relay.errors import AuthError, ReauthorizationRequiredError
from signup_relay.tokens.endpoint import fingerprint
from signup_relay.tokens.reader import Refresher
from signup_relay.tokens.refresh_function import get_single_writer
from signup_relay.tokens.secret_store import aws_error_code
from signup_relay.tokens.single_writer import RefreshRequest, SingleWriter

if TYPE_CHECKING:
    from mypy_boto3_lambda import LambdaClient  # pragma: no cover
else:
    LambdaClient = Any


class LocalRefresher:
    """Refresh in-process through the single-writer logic (local stack; no TOKEN_REFRESH_FUNCTION set)."""

    def __init__(self, writer: SingleWriter) -> None:
        self.writer = writer

    def __call__(self, account_secret_id: str, stale_access_token: str) -> None:
        self.writer.refresh(RefreshRequest(account_secret_id, fingerprint(stale_access_token)))


class LambdaRefresher:
    """Ask the TokenRefreshFunction (synchronously) to refresh; the caller then re-reads the secret.

    The payload carries the stale token's sha256, never the token. A throttled invoke means another
    refresh is running (reserved concurrency 1): wait and ask again; that call then finds the new token.
    """

    def __init__(
        self, function_name: str, lambda_client: LambdaClient, *, clock: Clock = SYSTEM_CLOCK, attempts: int = 10
    ) -> None:
        self.function_name = function_name
        self._client = lambda_client
        self._clock = clock
        self._attempts = attempts

    def __call__(self, account_secret_id: str, stale_access_token: str) -> None:
        payload = json.dumps(
            {"secret_id": account_secret_id, "stale_access_token_sha256": fingerprint(stale_access_token)}
        ).encode()
        for _ in range(self._attempts):
            try:
                response = self._client.invoke(
                    FunctionName=self.function_name, InvocationType="RequestResponse", Payload=payload
                )
            except ClientError as exc:
                if aws_error_code(exc) != "TooManyRequestsException":
                    raise AuthError(
                        f"could not invoke {self.function_name}: {aws_error_code(exc)}", secret_id=account_secret_id
                    ) from exc
                self._clock.sleep(1.0)
                continue
            body = response["Payload"].read()
            if response.get("FunctionError"):
                raise _function_error(self.function_name, account_secret_id, body)
            return
        raise AuthError(f"{self.function_name} stayed busy; retry later", secret_id=account_secret_id)


def _function_error(function_name: str, secret_id: str, body: bytes) -> Exception:
    try:
        error = json.loads(body or b"{}")
    except ValueError:
        error = {}
    error_type = str(error.get("errorType", "")) if isinstance(error, dict) else ""
    message = str(error.get("errorMessage", "")) if isinstance(error, dict) else ""
    if error_type == "ReauthorizationRequiredError":
        return ReauthorizationRequiredError(
            message or "re-authorization required: run `make connect`", secret_id=secret_id
        )
    return AuthError(f"{function_name} failed ({error_type or 'unknown error'})", secret_id=secret_id)


@per_container(maxsize=1)
def get_lambda_client() -> LambdaClient:
    """The container's Lambda client (the upsert side's LambdaRefresher)."""
    import boto3

    return boto3.client("lambda")


def get_refresher() -> Refresher:
    """The upsert side's refresher: the TokenRefreshFunction when TOKEN_REFRESH_FUNCTION is set, else in-process."""
    from signup_relay.config import get_settings

    function_name = get_settings().token_refresh_function
    if function_name:
        return LambdaRefresher(function_name, get_lambda_client())
    return LocalRefresher(get_single_writer())

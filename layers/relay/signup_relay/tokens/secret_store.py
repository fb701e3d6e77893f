"""The OAuth secret in Secrets Manager, with a staged RELAY_PENDING version beside AWSCURRENT.

The single writer writes pending first and then promotes, so a crash leaves something the next run can act
on (docs/token-refresh.md). The secret's fields are listed there too.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from signup_relay.clock import SYSTEM_CLOCK, Clock
from signup_relay.config import secret_in_family
from signup_relay.errors import ConfigError, TransientError
from signup_relay.observability import logger

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient  # pragma: no cover
else:
    SecretsManagerClient = Any


# A V2 (legacy API) account's secret: {"api": "v2", "api_key", "access_token", ...}; its token lives for years and is
# never refreshed (docs/architecture.md §10).
API_V2 = "v2"
PENDING_STAGE = "RELAY_PENDING"
CURRENT_STAGE = "AWSCURRENT"

T = TypeVar("T")


@dataclass(frozen=True)
class SecretVersion:
    version_id: str
    data: dict[str, Any]


def promoted_version_id(pending_version_id: str) -> str:
    """The AWSCURRENT version id a pending result is promoted to (deterministic, so promotion is idempotent)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"signup-relay:promote:{pending_version_id}"))


class SecretConflictError(TransientError):
    """AWSCURRENT moved while we refreshed (someone ran `connect`): our result was not promoted."""

    error_class = "secret_conflict"


_RETRYABLE_CODES = frozenset(
    {"ThrottlingException", "InternalServiceError", "InternalFailure", "ServiceUnavailable", "RequestTimeout"}
)
AWS_CONNECTION_ERRORS = (EndpointConnectionError, ConnectionClosedError, ConnectTimeoutError, ReadTimeoutError)
"""botocore's lost or timed-out connections: worth a retry, as a throttled call is."""


def aws_error_code(exc: ClientError) -> str:
    """The AWS error code of a ClientError (`ResourceNotFoundException`, ...), or ""."""
    return str(exc.response.get("Error", {}).get("Code", ""))


class StagedSecretStore:
    """The OAuth secret in Secrets Manager, written pending-first then promoted (docs/token-refresh.md)."""

    def __init__(self, client: SecretsManagerClient, *, clock: Clock = SYSTEM_CLOCK, attempts: int = 6) -> None:
        self._client = client
        self._clock = clock
        self._attempts = attempts

    def _call(self, operation: Callable[..., T], **kwargs: Any) -> T:
        for attempt in range(self._attempts):
            try:
                return operation(**kwargs)
            except ClientError as exc:
                if aws_error_code(exc) not in _RETRYABLE_CODES or attempt == self._attempts - 1:
                    raise
            except AWS_CONNECTION_ERRORS:
                if attempt == self._attempts - 1:
                    raise
            self._clock.sleep(min(0.2 * 2**attempt, 3.0))
        raise AssertionError("unreachable")  # pragma: no cover

    def read_current(self, secret_id: str) -> SecretVersion:
        """The AWSCURRENT version, always fetched (no cache: the single writer must see the latest)."""
        try:
            response = self._call(self._client.get_secret_value, SecretId=secret_id)
        except ClientError as exc:
            if aws_error_code(exc) == "ResourceNotFoundException":
                raise ConfigError(
                    f"secret {secret_id!r} does not exist: run `make connect ARGS='--secret-id {secret_id}'`"
                ) from exc
            raise
        return SecretVersion(response["VersionId"], _parse_secret(secret_id, response.get("SecretString")))

    def read_pending(self, secret_id: str) -> SecretVersion | None:
        """The version staged RELAY_PENDING, or None."""
        try:
            response = self._call(self._client.get_secret_value, SecretId=secret_id, VersionStage=PENDING_STAGE)
        except ClientError as exc:
            if aws_error_code(exc) == "ResourceNotFoundException":
                return None
            raise
        return SecretVersion(response["VersionId"], _parse_secret(secret_id, response.get("SecretString")))

    def put_pending(self, secret_id: str, data: Mapping[str, Any], *, version_id: str) -> str:
        """Write `data` as a new version staged RELAY_PENDING; idempotent for one `version_id`."""
        self._call(
            self._client.put_secret_value,
            SecretId=secret_id,
            SecretString=json.dumps(data, sort_keys=True),
            ClientRequestToken=version_id,
            VersionStages=[PENDING_STAGE],
        )
        return version_id

    def promote(self, secret_id: str, pending: SecretVersion, *, replacing: str) -> str:
        """Make the pending pair AWSCURRENT, only if AWSCURRENT is still `replacing`; returns the new version id.

        The pending version's content is put again as AWSCURRENT under a version id derived from the pending
        one, so a retry or a recovery after a crash writes the very same version (idempotent). A put, rather
        than moving the AWSCURRENT label, because every reader (Powertools, moto in the local stack) agrees on
        what a put means; AWSPREVIOUS then marks the version it replaced.
        """
        final_id = promoted_version_id(pending.version_id)
        current = self._call(self._client.get_secret_value, SecretId=secret_id)["VersionId"]
        if current == final_id:
            return final_id  # an earlier attempt got there, its answer lost
        if current != replacing:
            raise SecretConflictError(
                f"secret {secret_id!r} changed while refreshing (now {current}, expected {replacing}); "
                "keeping the newer secret",
                secret_id=secret_id,
            )
        self._call(
            self._client.put_secret_value,
            SecretId=secret_id,
            SecretString=json.dumps(pending.data, sort_keys=True),
            ClientRequestToken=final_id,
            VersionStages=[CURRENT_STAGE],
        )
        return final_id

    def clear_pending(self, secret_id: str, version_id: str) -> None:
        """Best effort: take RELAY_PENDING off a version that no longer needs it."""
        try:
            self._call(
                self._client.update_secret_version_stage,
                SecretId=secret_id,
                VersionStage=PENDING_STAGE,
                RemoveFromVersionId=version_id,
            )
        except (ClientError, *AWS_CONNECTION_ERRORS):
            logger.info("could not clear the pending stage; the next run will", extra={"secret_id": secret_id})

    def list_accounts(self, base: str) -> list[str]:
        """Names of the secrets under `<base>/` (the other accounts' OAuth secrets), sorted; not `base` itself.

        ListSecrets sees names and metadata only, never values; the name filter is a case-sensitive prefix
        match, checked again here so `<base>-old` or `<base>x` never count.
        """
        names: list[str] = []
        kwargs: dict[str, Any] = {"Filters": [{"Key": "name", "Values": [f"{base}/"]}], "MaxResults": 100}
        while True:
            page = self._call(self._client.list_secrets, **kwargs)
            names += [str(s["Name"]) for s in page.get("SecretList", []) if secret_in_family(str(s["Name"]), base)]
            if not page.get("NextToken"):
                return sorted(set(names) - {base})
            kwargs["NextToken"] = page["NextToken"]

    def write_current(self, secret_id: str, data: Mapping[str, Any], *, description: str = "") -> str:
        """Create the secret, or put `data` as its new AWSCURRENT version (the `connect` CLI)."""
        body = json.dumps(data, sort_keys=True)
        version_id = str(uuid.uuid4())
        try:
            self._call(
                self._client.put_secret_value, SecretId=secret_id, SecretString=body, ClientRequestToken=version_id
            )
        except ClientError as exc:
            if aws_error_code(exc) != "ResourceNotFoundException":
                raise
            self._call(
                self._client.create_secret,
                Name=secret_id,
                SecretString=body,
                ClientRequestToken=version_id,
                Description=description,
            )
        return version_id


def _parse_secret(secret_id: str, raw: str | None) -> dict[str, Any]:
    try:
        data = json.loads(raw or "")
    except ValueError as exc:
        raise ConfigError(f"secret {secret_id!r} is not JSON: run `make connect` to write it") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"secret {secret_id!r} is not a JSON object: run `make connect` to write it")
    return data


def is_v2_account(data: Mapping[str, Any]) -> bool:
    """Whether the account secret is a V2 one (written by `connect --api v2`): readers never ask for a refresh
    and the single writer skips it."""
    return data.get("api") == API_V2


def require_secret_fields(secret_id: str, data: Mapping[str, Any]) -> None:
    """Refuse a secret the single writer cannot refresh: ConfigError naming what is missing."""
    missing = [key for key in ("client_id", "access_token", "refresh_token") if not data.get(key)]
    if missing:
        raise ConfigError(
            f"secret {secret_id!r} lacks {', '.join(missing)}: run `make connect ARGS='--secret-id {secret_id}'`"
        )

"""The single writer of the Constant Contact OAuth secret (design §7, issue 5).

Only this module refreshes tokens. It runs in the `token_refresh` Lambda (reserved concurrency 1,
on a schedule and on demand from `upsert`) or, for the local stack, in-process under one lock.

A refresh is a three-step staged write, so a crash at any point leaves something the next run can act on:

1. *intent*: a version staged `RELAY_PENDING` that says "a refresh based on version V started at T". It
   also proves the secret is writable before the refresh token is spent.
2. *result*: the new pair, written as a `RELAY_PENDING` version the moment the token endpoint answers,
   with `previous_version_id` = V.
3. *promote*: if `AWSCURRENT` is still V, put the result again as `AWSCURRENT` under a version id derived
   from the pending one (so a retry or a recovery writes the same version); `AWSPREVIOUS` then marks V,
   and the secret's `previous_version_id` names it too.

The next run first looks at `RELAY_PENDING`: a result based on the current version is promoted (a crash
between steps 2 and 3 heals itself); an intent based on the current version means the previous run died
between steps 1 and 2. If the token endpoint had already answered that run, a *rotating* refresh token
is spent and nothing on our side holds its successor: the refresh answers `invalid_grant`, and the
operator sees the `TokenRefreshInvalidGrant` alarm and a log line asking for `make connect`. A
*long-lived* refresh token survives that crash (the same value keeps working). That one window — from
the token endpoint's answer to the first PutSecretValue — cannot be closed by any store: the new refresh
token exists only in the process's memory. It is kept as short as possible (nothing runs in between,
and a refresh token is never spent with less than MIN_SECONDS_TO_STORE of Lambda time left).
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol, TypeVar

import requests
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)
from pydantic import BaseModel, ConfigDict, Field

from signup_relay.caches import per_container
from signup_relay.clock import SYSTEM_CLOCK, Clock
from signup_relay.config import secret_in_family
from signup_relay.errors import (
    AuthError,
    ConfigError,
    ReauthorizationRequiredError,
    ThrottledError,
    TransientError,
)
from signup_relay.observability import logger
from signup_relay.tokens.reader import Refresher

if TYPE_CHECKING:
    from mypy_boto3_lambda import LambdaClient  # pragma: no cover
    from mypy_boto3_secretsmanager import SecretsManagerClient  # pragma: no cover
else:
    LambdaClient = Any
    SecretsManagerClient = Any


PENDING_STAGE = "RELAY_PENDING"
CURRENT_STAGE = "AWSCURRENT"
INVALID_GRANT_METRIC = "TokenRefreshInvalidGrant"
TOKEN_TIMEOUT = (5.0, 15.0)  # connect, read (seconds)
MIN_SECONDS_TO_STORE = 20.0  # never spend a refresh token with less Lambda time left than this

T = TypeVar("T")


# --- collaborators ------------------------------------------------------------------------------


class MetricSink(Protocol):
    """What we need of Powertools `Metrics`."""

    def add_metric(self, name: str, unit: str, value: float) -> Any: ...


class NullMetrics:
    """Drops metrics: for the local stack and the `connect` CLI."""

    def add_metric(self, name: str, unit: str, value: float) -> None:
        return None


@dataclass(frozen=True)
class RefreshPolicy:
    """When to refresh. Defaults suit Constant Contact's 24 h access tokens and 180-day idle refresh tokens."""

    margin_seconds: float = 2 * 3600  # refresh ahead of expiry by this much (scheduled mode)
    keepalive_seconds: float = 7 * 86400  # refresh at least this often, so refresh tokens never idle out
    # The token endpoint allows 1 request/s; 10% headroom so network jitter never makes two land within a second.
    min_request_interval: float = 1.1


def fingerprint(token: str) -> str:
    """sha256 hex of a token: what invoke payloads and logs carry instead of the token."""
    return hashlib.sha256(token.encode()).hexdigest()


def mask_token(token: str | None) -> str:
    """A token shown to a person: its length and last 4 characters only."""
    if not token:
        return "<none>"
    return f"****{token[-4:]} ({len(token)} chars)" if len(token) > 12 else "****"


# --- the token endpoint ------------------------------------------------------------------------


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


def _spend_refresh_token(
    http: requests.Session,
    token_url: str,
    secret: Mapping[str, Any],
    *,
    clock: Clock,
    policy: RefreshPolicy,
    not_before: float,
    attempts: int = 3,
) -> TokenGrant:
    """The refresh_token grant, paced to 1 request/s; retries 429, 5xx and lost connections."""
    form = {"grant_type": "refresh_token", "refresh_token": str(secret["refresh_token"])}
    last: OAuthError | None = None
    for attempt in range(attempts):
        TOKEN_GATE.wait(clock, interval=policy.min_request_interval, not_before=not_before)
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
            clock.sleep(policy.min_request_interval * (attempt + 1))
    assert last is not None  # pragma: no cover - the loop always returns or raises
    raise last  # pragma: no cover


# --- the secret, with staged versions ----------------------------------------------------------


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
_RETRYABLE_EXCEPTIONS = (EndpointConnectionError, ConnectionClosedError, ConnectTimeoutError, ReadTimeoutError)


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


class StagedSecretStore:
    """The OAuth secret in Secrets Manager, written pending-first then promoted (see the module docstring)."""

    def __init__(self, client: SecretsManagerClient, *, clock: Clock = SYSTEM_CLOCK, attempts: int = 6) -> None:
        self._client = client
        self._clock = clock
        self._attempts = attempts

    def _call(self, operation: Callable[..., T], **kwargs: Any) -> T:
        for attempt in range(self._attempts):
            try:
                return operation(**kwargs)
            except ClientError as exc:
                if _error_code(exc) not in _RETRYABLE_CODES or attempt == self._attempts - 1:
                    raise
            except _RETRYABLE_EXCEPTIONS:
                if attempt == self._attempts - 1:
                    raise
            self._clock.sleep(min(0.2 * 2**attempt, 3.0))
        raise AssertionError("unreachable")  # pragma: no cover

    def read_current(self, secret_id: str) -> SecretVersion:
        """The AWSCURRENT version, always fetched (no cache: the single writer must see the latest)."""
        try:
            response = self._call(self._client.get_secret_value, SecretId=secret_id)
        except ClientError as exc:
            if _error_code(exc) == "ResourceNotFoundException":
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
            if _error_code(exc) == "ResourceNotFoundException":
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
        except (ClientError, *_RETRYABLE_EXCEPTIONS):
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
            if _error_code(exc) != "ResourceNotFoundException":
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


def _require_fields(secret_id: str, data: Mapping[str, Any]) -> None:
    missing = [key for key in ("client_id", "access_token", "refresh_token") if not data.get(key)]
    if missing:
        raise ConfigError(
            f"secret {secret_id!r} lacks {', '.join(missing)}: run `make connect ARGS='--secret-id {secret_id}'`"
        )


# --- the single-writer refresh -----------------------------------------------------------------


@dataclass(frozen=True)
class RefreshRequest:
    """Refresh one account's secret. With a stale fingerprint: a caller saw that access token rejected."""

    secret_id: str
    stale_access_token_sha256: str | None = None


@dataclass(frozen=True)
class RefreshOutcome:
    secret_id: str
    action: Literal["refreshed", "skipped"]
    reason: str
    version_id: str
    access_token_sha256: str
    expires_at: float
    recovered: bool = False  # a result stored before a crash was promoted first

    def as_dict(self) -> dict[str, Any]:
        return {
            "secret_id": self.secret_id,
            "action": self.action,
            "reason": self.reason,
            "version_id": self.version_id,
            "access_token_sha256": self.access_token_sha256,
            "expires_at": self.expires_at,
            "recovered": self.recovered,
        }


def refresh_reason(
    data: Mapping[str, Any], request: RefreshRequest, *, now: float, policy: RefreshPolicy
) -> tuple[bool, str]:
    """Whether to refresh now, and why (pure)."""
    if request.stale_access_token_sha256 is not None:
        if fingerprint(str(data.get("access_token") or "")) != request.stale_access_token_sha256.lower():
            return False, "already_refreshed"  # lost the race: the caller re-reads and gets the new token
        # Constant Contact rejected the very token we hold: it is the authority on expiry, not our expires_at.
        return True, "rejected_by_api"
    expires_at = float(data.get("expires_at") or 0)
    if expires_at - now <= policy.margin_seconds:
        return True, "near_expiry"
    refreshed_at = data.get("refreshed_at")
    if refreshed_at is None or now - float(refreshed_at) >= policy.keepalive_seconds:
        return True, "keep_alive"
    return False, "fresh"


def _recover_pending(
    store: StagedSecretStore, secret_id: str, current: SecretVersion, metrics: MetricSink
) -> tuple[SecretVersion, bool, dict[str, Any] | None]:
    """Finish what a crashed run left: (current after recovery, recovered?, interrupted intent or None)."""
    pending = store.read_pending(secret_id)
    if pending is None:
        return current, False, None
    if current.version_id in (pending.version_id, promoted_version_id(pending.version_id)):
        store.clear_pending(secret_id, pending.version_id)  # promoted; only the label was left behind
        return current, False, None
    intent = pending.data.get("refresh_intent")
    if intent is None and pending.data.get("previous_version_id") == current.version_id:
        promoted = store.promote(secret_id, pending, replacing=current.version_id)
        store.clear_pending(secret_id, pending.version_id)
        metrics.add_metric(name="TokenRefreshRecovered", unit="Count", value=1)
        logger.warning(
            "promoted a refreshed token pair that a crashed run stored but did not promote",
            extra={"secret_id": secret_id, "version_id": promoted, "replaced": current.version_id},
        )
        return SecretVersion(promoted, pending.data), True, None
    if isinstance(intent, dict) and intent.get("based_on_version_id") == current.version_id:
        logger.warning(
            "the previous refresh was interrupted before its result was stored; refreshing again",
            extra={"secret_id": secret_id, "interrupted_at": intent.get("requested_at")},
        )
        return current, False, intent
    return current, False, None  # left over from an older secret (e.g. before `connect`): ignore


def _invalid_grant(
    secret_id: str,
    secret: Mapping[str, Any],
    exc: OAuthError,
    interrupted: Mapping[str, Any] | None,
    metrics: MetricSink,
) -> ReauthorizationRequiredError:
    metrics.add_metric(name=INVALID_GRANT_METRIC, unit="Count", value=1)
    cause = (
        f" A refresh started at {interrupted.get('requested_at')} was interrupted before storing its answer; "
        "with rotating refresh tokens that answer held the only valid refresh token."
        if interrupted
        else ""
    )
    message = (
        f"Constant Contact refused the refresh token of secret {secret_id!r} (invalid_grant): the integration "
        f"must be re-authorized. Run `make connect ARGS='--secret-id {secret_id}'` again.{cause}"
    )
    logger.error(
        message,
        extra={
            "secret_id": secret_id,
            "refresh_token_type": secret.get("refresh_token_type", "rotating"),
            "oauth_error": exc.error,
            "oauth_error_description": exc.description,
        },
    )
    return ReauthorizationRequiredError(message, secret_id=secret_id)


@dataclass
class SingleWriter:
    """The only writer of one container's OAuth secrets: `refresh(request)`, one refresh at a time.

    In Lambda the reserved concurrency of 1 already serializes invocations; the process-wide lock makes the
    in-process use (local stack, tests with threads) behave the same.
    """

    store: StagedSecretStore
    http: requests.Session
    token_url: str
    clock: Clock = SYSTEM_CLOCK
    metrics: MetricSink = field(default_factory=NullMetrics)
    policy: RefreshPolicy = field(default_factory=RefreshPolicy)

    _lock: ClassVar[threading.Lock] = threading.Lock()

    def refresh(self, request: RefreshRequest, *, time_left: Callable[[], float] | None = None) -> RefreshOutcome:
        """Refresh one secret if it needs it (see the module docstring for the staged write)."""
        with SingleWriter._lock:
            return self._refresh(request, time_left)

    def _refresh(self, request: RefreshRequest, time_left: Callable[[], float] | None) -> RefreshOutcome:
        store, http, token_url, clock = self.store, self.http, self.token_url, self.clock
        metrics, policy = self.metrics, self.policy
        secret_id = request.secret_id
        current = store.read_current(secret_id)
        current, recovered, interrupted = _recover_pending(store, secret_id, current, metrics)
        _require_fields(secret_id, current.data)

        refresh, reason = refresh_reason(current.data, request, now=clock.time(), policy=policy)
        if not refresh:
            return _outcome(secret_id, current, "skipped", reason, recovered)

        requested_at = clock.time()
        last_request = max(
            float(current.data.get("token_requested_at") or 0), float((interrupted or {}).get("requested_at") or 0)
        )
        # Step 1, intent: proves the secret is writable before a rotating refresh token is spent.
        intent = {
            **current.data,
            "refresh_intent": {"based_on_version_id": current.version_id, "requested_at": requested_at},
        }
        intent_version = store.put_pending(secret_id, intent, version_id=str(uuid.uuid4()))
        if time_left is not None and time_left() < MIN_SECONDS_TO_STORE:
            store.clear_pending(secret_id, intent_version)
            raise TransientError("too little time left to store a refreshed pair; not spending the refresh token")
        try:
            grant = _spend_refresh_token(
                http,
                token_url,
                current.data,
                clock=clock,
                policy=policy,
                not_before=last_request + policy.min_request_interval,
            )
        except OAuthError as exc:
            if exc.status != 0:  # a definite answer: nothing was spent, the intent is moot
                store.clear_pending(secret_id, intent_version)
            if exc.error == "invalid_grant":
                raise _invalid_grant(secret_id, current.data, exc, interrupted, metrics) from exc
            metrics.add_metric(name="TokenRefreshFailed", unit="Count", value=1)
            if exc.status == 429:
                raise ThrottledError(f"token endpoint throttled: {exc.message}", secret_id=secret_id) from exc
            raise
        # Step 2, result: nothing else may run (or fail) before the new pair is durable.
        new_data = {
            **{k: v for k, v in current.data.items() if k != "refresh_intent"},
            "access_token": grant.access_token,
            "refresh_token": grant.refresh_token or current.data["refresh_token"],
            # The same refresh token coming back means the app issues long-lived refresh tokens.
            "refresh_token_type": "long_lived"
            if grant.refresh_token in (None, current.data["refresh_token"])
            else "rotating",
            "expires_at": int(requested_at + grant.expires_in),
            "refreshed_at": requested_at,
            "token_requested_at": requested_at,
            "previous_version_id": current.version_id,
        }
        pending = SecretVersion(store.put_pending(secret_id, new_data, version_id=str(uuid.uuid4())), new_data)
        # Step 3, promote, only if AWSCURRENT is still the version we refreshed.
        new_version = store.promote(secret_id, pending, replacing=current.version_id)
        store.clear_pending(secret_id, pending.version_id)
        metrics.add_metric(name="TokenRefreshed", unit="Count", value=1)
        logger.info(
            "refreshed the Constant Contact tokens",
            extra={"secret_id": secret_id, "reason": reason, "version_id": new_version, "replaced": current.version_id},
        )
        return _outcome(secret_id, SecretVersion(new_version, new_data), "refreshed", reason, recovered)


def _outcome(
    secret_id: str, version: SecretVersion, action: Literal["refreshed", "skipped"], reason: str, recovered: bool
) -> RefreshOutcome:
    return RefreshOutcome(
        secret_id=secret_id,
        action=action,
        reason=reason,
        version_id=version.version_id,
        access_token_sha256=fingerprint(str(version.data.get("access_token") or "")),
        expires_at=float(version.data.get("expires_at") or 0),
        recovered=recovered,
    )


# --- the two refreshers the upsert side can be given: request_refresh(account_secret_id, stale_access_token) --


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
                if _error_code(exc) != "TooManyRequestsException":
                    raise AuthError(
                        f"could not invoke {self.function_name}: {_error_code(exc)}", secret_id=account_secret_id
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


# --- the token_refresh Lambda's event ------------------------------------------------------------


class OnDemandRefreshEvent(BaseModel):
    """The payload `LambdaRefresher` sends. A raw token is refused (extra keys are forbidden)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    secret_id: str = Field(min_length=1)
    stale_access_token_sha256: str | None = Field(default=None, pattern=r"^[0-9a-fA-F]{64}$")


def _is_scheduled(event: Mapping[str, Any]) -> bool:
    return (
        event.get("source") == "aws.events"
        or event.get("detail-type") == "Scheduled Event"
        or (event.get("mode") == "scheduled")
    )


def handle_refresh_event(
    event: Mapping[str, Any],
    *,
    refresh: Callable[[RefreshRequest], RefreshOutcome],
    default_secret_ids: Iterable[str],
    more_secret_ids: Callable[[], Iterable[str]] | None = None,
) -> dict[str, Any]:
    """Scheduled run (every account, ahead of expiry / keep-alive) or on-demand run (one account).

    A scheduled run covers the event's `secret_ids`, else `default_secret_ids` plus what `more_secret_ids()`
    finds (the accounts under CC_SECRET_ID). If that lookup fails, the defaults are still refreshed and the
    run fails afterwards.
    """
    if _is_scheduled(event):
        secret_ids = list(event.get("secret_ids") or default_secret_ids)
        results: list[dict[str, Any]] = []
        failures: list[Exception] = []
        if not event.get("secret_ids") and more_secret_ids is not None:
            try:
                secret_ids += list(more_secret_ids())
            except (ClientError, *_RETRYABLE_EXCEPTIONS) as exc:
                code = _error_code(exc) if isinstance(exc, ClientError) else type(exc).__name__
                logger.error("could not list the other accounts' secrets", extra={"error": code})
                failures.append(TransientError(f"listing the account secrets failed: {code}"))
                results.append({"secret_id": "(other accounts)", "action": "failed", "error": "list_secrets"})
        for secret_id in dict.fromkeys(secret_ids):
            try:
                results.append(refresh(RefreshRequest(secret_id)).as_dict())
            except (ReauthorizationRequiredError, ConfigError, TransientError) as exc:
                failures.append(exc)  # one dead account must not stop the others' refresh
                results.append({"secret_id": secret_id, "action": "failed", "error": exc.error_class})
        logger.info("scheduled token refresh done", extra={"results": results})
        if failures:
            raise failures[0]  # the invocation counts as an error; the log above lists every account
        return {"mode": "scheduled", "results": results}
    try:
        parsed = OnDemandRefreshEvent.model_validate(event)
    except ValueError:
        # Name the bad keys only, and drop the validation error: the refused values could be tokens.
        keys = sorted(str(k) for k in event) if isinstance(event, Mapping) else []
        raise ConfigError(
            "token_refresh expects {'secret_id', 'stale_access_token_sha256'} (a sha256, never a raw token); "
            f"got keys {keys}"
        ) from None
    outcome = refresh(RefreshRequest(parsed.secret_id, parsed.stale_access_token_sha256))
    return {"mode": "on_demand", **outcome.as_dict()}


# --- wiring from settings (cached getters) -------------------------------------------------------


@per_container(maxsize=1)
def get_secretsmanager_client() -> SecretsManagerClient:
    """The container's Secrets Manager client (the single writer's store)."""
    import boto3

    return boto3.client("secretsmanager")


@per_container(maxsize=1)
def get_lambda_client() -> LambdaClient:
    """The container's Lambda client (the upsert side's LambdaRefresher)."""
    import boto3

    return boto3.client("lambda")


@per_container(maxsize=1)
def get_single_writer() -> SingleWriter:
    """The container's single writer, wired from settings (CC_TOKEN_URL) and its cached clients."""
    from signup_relay.config import get_settings
    from signup_relay.constant_contact.client import get_session

    return SingleWriter(
        store=StagedSecretStore(get_secretsmanager_client()), http=get_session(), token_url=get_settings().cc_token_url
    )


def get_refresher() -> Refresher:
    """The upsert side's refresher: the TokenRefreshFunction when TOKEN_REFRESH_FUNCTION is set, else in-process."""
    from signup_relay.config import get_settings

    function_name = get_settings().token_refresh_function
    if function_name:
        return LambdaRefresher(function_name, get_lambda_client())
    return LocalRefresher(get_single_writer())


def run_token_refresh(
    event: Mapping[str, Any], *, metrics: MetricSink | None = None, time_left: Callable[[], float] | None = None
) -> dict[str, Any]:
    """The token_refresh function's one call: a scheduled run over CC_SECRET_ID and every account secret named
    `<CC_SECRET_ID>/<name>` (or the event's `secret_ids`), or an on-demand run for one account.

    The accounts are found by listing secret names under that prefix, so a `make connect --secret-id` is kept
    alive from the next hourly run on, with no parameter to update; IAM lets this function read and write
    exactly that family (template.yaml).
    """
    from signup_relay.config import get_settings

    writer = get_single_writer()
    if metrics is not None:
        writer.metrics = metrics  # the container's one Powertools Metrics, flushed by the handler
    base = get_settings().cc_secret_id
    return handle_refresh_event(
        event,
        refresh=lambda request: writer.refresh(request, time_left=time_left),
        default_secret_ids=[base],
        # An ARN has no family (see config.secret_in_family): then CC_SECRET_ID is the only account.
        more_secret_ids=None if base.startswith("arn:") else lambda: writer.store.list_accounts(base),
    )

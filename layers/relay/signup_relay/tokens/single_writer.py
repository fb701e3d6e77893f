"""The single writer of the Constant Contact OAuth secret: one refresh at a time, as a staged write.

Each refresh stores an intent, then the new pair, then promotes it to AWSCURRENT, so the next run can finish
or redo what a crashed one left. Why, and the one window no store can close: docs/token-refresh.md.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, Protocol

import requests

from signup_relay.clock import SYSTEM_CLOCK, Clock
from signup_relay.errors import ReauthorizationRequiredError, ThrottledError, TransientError
from signup_relay.observability import logger
from signup_relay.tokens.endpoint import OAuthError, fingerprint, spend_refresh_token
from signup_relay.tokens.secret_store import (
    SecretVersion,
    StagedSecretStore,
    is_v2_account,
    promoted_version_id,
    require_secret_fields,
)

INVALID_GRANT_METRIC = "TokenRefreshInvalidGrant"
MIN_SECONDS_TO_STORE = 20.0  # never spend a refresh token with less Lambda time left than this


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
        """Refresh one secret if it needs it, as a staged write (docs/token-refresh.md)."""
        with SingleWriter._lock:
            return self._refresh(request, time_left)

    def _refresh(self, request: RefreshRequest, time_left: Callable[[], float] | None) -> RefreshOutcome:
        store, http, token_url, clock = self.store, self.http, self.token_url, self.clock
        metrics, policy = self.metrics, self.policy
        secret_id = request.secret_id
        current = store.read_current(secret_id)
        if is_v2_account(current.data):
            # A V2 account: a long-lived token and an API key, no refresh token (docs/architecture.md §10).
            return _outcome(secret_id, current, "skipped", "v2_account", False)
        current, recovered, interrupted = _recover_pending(store, secret_id, current, metrics)
        require_secret_fields(secret_id, current.data)

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
            grant = spend_refresh_token(
                http,
                token_url,
                current.data,
                clock=clock,
                min_interval=policy.min_request_interval,
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

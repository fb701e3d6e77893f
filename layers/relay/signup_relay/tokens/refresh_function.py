"""What TokenRefreshFunction does with its event, and the single writer it runs, wired from settings.

Scheduled: every account whose token nears expiry or has not been refreshed for a week. On demand (the upsert
side's `LambdaRefresher`): one account whose access token Constant Contact rejected.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, Field

from signup_relay.caches import per_container
from signup_relay.errors import ConfigError, ReauthorizationRequiredError, TransientError
from signup_relay.observability import logger
from signup_relay.tokens.secret_store import AWS_CONNECTION_ERRORS, StagedSecretStore, aws_error_code
from signup_relay.tokens.single_writer import MetricSink, RefreshOutcome, RefreshRequest, SingleWriter

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient  # pragma: no cover
else:
    SecretsManagerClient = Any


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
            except (ClientError, *AWS_CONNECTION_ERRORS) as exc:
                code = aws_error_code(exc) if isinstance(exc, ClientError) else type(exc).__name__
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
def get_single_writer() -> SingleWriter:
    """The container's single writer, wired from settings (CC_TOKEN_URL) and its cached clients."""
    from signup_relay.config import get_settings
    from signup_relay.tokens.endpoint import get_token_session

    return SingleWriter(
        store=StagedSecretStore(get_secretsmanager_client()),
        http=get_token_session(),
        token_url=get_settings().cc_token_url,
    )


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

"""Settings read once, lazily, from the environment (docs/architecture.md §9).

Cleared by `signup_relay.caches.clear_all()`.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from signup_relay.caches import per_container

DEFAULT_API_BASE_URL = "https://api.cc.email/v3"
DEFAULT_TOKEN_URL = "https://authz.constantcontact.com/oauth2/default/v1/token"
DEFAULT_V2_API_BASE_URL = "https://api.constantcontact.com/v2"


@dataclass(frozen=True)
class Settings:
    cc_api_base_url: str
    cc_token_url: str
    cc_secret_id: str
    routes_file: str
    queue_url: str
    dlq_url: str
    token_refresh_function: str  # name of the single-writer refresh function ("" = refresh in-process)
    max_body_bytes: int
    secret_max_age_seconds: int
    # Per-container pacing, derived (never set directly): the API key's limit shared by the concurrent containers.
    cc_requests_per_second: float = 4.0
    webhook_secret_id: str = "signup-relay/webhooks"  # default Secrets Manager id of the routes' webhook secrets
    max_receive_count: int = 5  # the queue's redrive maxReceiveCount: upsert dead-letters on the last attempt
    # Constant Contact's limit per API key (docs/architecture.md §7); 0 disables pacing.
    cc_rate_limit_per_second: float = 4.0
    upsert_max_concurrency: int = 1  # upsert containers running at once (template: UpsertMaxConcurrency)
    # DynamoDB table of the deliveries receive queued ("" = none: only SQS's 5-minute dedupe), and how long a
    # delivery is remembered (docs/architecture.md §3).
    delivery_idempotency_table: str = ""
    # X-Ray subsegments from the Powertools Tracer (its SDK import costs ~0.15-0.2 s of every cold start).
    detailed_tracing: bool = False
    delivery_idempotency_days: int = 7
    # Burst mode (docs/architecture.md §11): the drain imports a backlog of at least `burst_threshold` visible
    # sign-ups (0 = off), at most `burst_max_signups` per run.
    burst_threshold: int = 100
    burst_max_signups: int = 2000
    cc_v2_api_base_url: str = DEFAULT_V2_API_BASE_URL  # the legacy V2 API, for `api: v2` (docs/architecture.md §10)


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name, "")
    return int(raw) if raw.strip() else default


def _positive(name: str, default: int) -> int:
    value = _int(name, default)
    if value < 1:
        raise ValueError(f"{name} must be >= 1")
    return value


def _float(name: str, default: float) -> float:
    raw = os.environ.get(name, "")
    return float(raw) if raw.strip() else default


def per_container_rate(rate_limit_per_second: float, max_concurrency: int) -> float:
    """The pace of one upsert container: the API key's limit split between the containers that may run at once.

    The one place the throughput contract of docs/architecture.md §7 is computed (0 = no pacing).
    """
    if rate_limit_per_second < 0:
        raise ValueError("CC_RATE_LIMIT_PER_SECOND must be >= 0")
    if max_concurrency < 1:
        raise ValueError("UPSERT_MAX_CONCURRENCY must be >= 1")
    return rate_limit_per_second / max_concurrency


@per_container(maxsize=1)
def get_settings() -> Settings:
    env = os.environ
    rate_limit = _float("CC_RATE_LIMIT_PER_SECOND", 4.0)
    max_concurrency = _int("UPSERT_MAX_CONCURRENCY", 1)
    return Settings(
        cc_api_base_url=env.get("CC_API_BASE_URL", "").rstrip("/") or DEFAULT_API_BASE_URL,
        cc_token_url=env.get("CC_TOKEN_URL", "") or DEFAULT_TOKEN_URL,
        cc_secret_id=env.get("CC_SECRET_ID", "signup-relay/constant-contact"),
        routes_file=env.get("ROUTES_FILE", "routes.yaml"),
        queue_url=env.get("QUEUE_URL", ""),
        dlq_url=env.get("DLQ_URL", ""),
        token_refresh_function=env.get("TOKEN_REFRESH_FUNCTION", ""),
        max_body_bytes=_int("MAX_BODY_BYTES", 256 * 1024),
        secret_max_age_seconds=_int("SECRET_MAX_AGE_SECONDS", 60),
        cc_requests_per_second=per_container_rate(rate_limit, max_concurrency),
        webhook_secret_id=env.get("WEBHOOK_SECRET_ID", "") or "signup-relay/webhooks",
        max_receive_count=_int("MAX_RECEIVE_COUNT", 5),
        cc_rate_limit_per_second=rate_limit,
        upsert_max_concurrency=max_concurrency,
        delivery_idempotency_table=env.get("DELIVERY_IDEMPOTENCY_TABLE", ""),
        detailed_tracing=env.get("DETAILED_TRACING", "").strip().lower() in ("1", "true", "yes"),
        delivery_idempotency_days=_positive("DELIVERY_IDEMPOTENCY_DAYS", 7),
        burst_threshold=_int("BURST_THRESHOLD", 100),
        burst_max_signups=_positive("BURST_MAX_SIGNUPS", 2000),
        cc_v2_api_base_url=env.get("CC_V2_API_BASE_URL", "").rstrip("/") or DEFAULT_V2_API_BASE_URL,
    )


_ARN_SUFFIX = re.compile(r"-[A-Za-z0-9]{6}$")


def secret_in_family(secret_id: str, base: str) -> bool:
    """Whether `secret_id` is `base` or a secret named `<base>/<name>` (a name or that secret's ARN).

    The deployed stack grants access to exactly these: CcSecretId and the accounts under it (upsert reads,
    token refresh writes and refreshes hourly), WebhookSecretId and the webhook secrets under it (receive
    reads). An ARN `base` has no family (its random suffix cannot prefix other names): only itself.
    """
    if secret_id == base:
        return True
    if not secret_id or not base or base.startswith("arn:"):
        return False
    name = secret_id
    if secret_id.startswith("arn:"):
        _, found, name = secret_id.partition(":secret:")
        if not found:
            return False
        if _ARN_SUFFIX.sub("", name) == base:
            return True
    return name.startswith(f"{base}/") and len(name) > len(base) + 1

"""Settings read once, lazily, from the environment (design §9). Clear with `get_settings.cache_clear()`."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache

DEFAULT_API_BASE_URL = "https://api.cc.email/v3"
DEFAULT_TOKEN_URL = "https://authz.constantcontact.com/oauth2/default/v1/token"


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
    cc_requests_per_second: float = 4.0  # per-container pacing; divide the API key's 4/s by the concurrency
    webhook_secret_id: str = "signup-relay/webhooks"  # default Secrets Manager id of the routes' webhook secrets
    max_receive_count: int = 5  # the queue's redrive maxReceiveCount: upsert dead-letters on the last attempt


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name, "")
    return int(raw) if raw.strip() else default


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    env = os.environ
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
        cc_requests_per_second=float(env.get("CC_REQUESTS_PER_SECOND", "").strip() or 4.0),
        webhook_secret_id=env.get("WEBHOOK_SECRET_ID", "") or "signup-relay/webhooks",
        max_receive_count=_int("MAX_RECEIVE_COUNT", 5),
    )

"""token_refresh: the single writer of the Constant Contact OAuth secret, scheduled and on demand.

Scheduled (EventBridge): refresh every account whose access token nears expiry, or whose last refresh is a
week old (keeps refresh tokens alive past Constant Contact's 180-day idle limit). On demand (invoked
synchronously by upsert after a 401 that survived a re-read): {"secret_id", "stale_access_token_sha256"}.
Why a single writer, and how it survives a crash: docs/architecture.md §6 and docs/token-refresh.md.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from signup_relay.observability import logger, metrics, traced_handler
from signup_relay.tokens.refresh_function import run_token_refresh


@logger.inject_lambda_context(clear_state=True)
@traced_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return run_token_refresh(event, metrics=metrics, time_left=lambda: context.get_remaining_time_in_millis() / 1000)

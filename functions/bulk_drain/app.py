"""bulk_drain: every minute, when the sign-up queue holds a backlog, apply it in bulk (burst mode).

Data flow and the choices behind it: docs/architecture.md §11.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from signup_relay.aws.dead_letters import get_dead_letter_queue
from signup_relay.aws.queue import get_signup_queue
from signup_relay.aws.quota_breaker import get_quota_breaker
from signup_relay.bulk.apply import BulkLimits
from signup_relay.bulk.drain import drain_backlog
from signup_relay.clock import utc_now
from signup_relay.config import get_settings
from signup_relay.observability import logger, metrics, traced_handler
from signup_relay.upsert.wiring import get_upserter

# Held messages stay invisible a minute past the invocation's end; polling and per-contact attempts stop two
# minutes before it.
HOLD_MARGIN_SECONDS = 60
POLL_MARGIN_SECONDS = 120


@logger.inject_lambda_context(clear_state=True)
@traced_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    settings = get_settings()
    remaining = context.get_remaining_time_in_millis() / 1000
    report = drain_backlog(
        queue=get_signup_queue(),
        dlq=get_dead_letter_queue(),
        upserter_for=get_upserter,
        breaker=get_quota_breaker(),
        threshold=settings.burst_threshold,
        max_signups=settings.burst_max_signups,
        max_attempts=settings.max_receive_count,
        hold_seconds=int(remaining) + HOLD_MARGIN_SECONDS,
        clock=utc_now,
        sleep=time.sleep,
        limits=BulkLimits(poll_timeout_seconds=max(10.0, remaining - POLL_MARGIN_SECONDS)),
        deadline=utc_now() + timedelta(seconds=max(0.0, remaining - POLL_MARGIN_SECONDS)),
    )
    logger.info("burst drain", extra=report.to_json())
    metrics.add_metric(name="burst_received", unit="Count", value=report.received)
    return report.to_json()

"""The deliveries receive has queued, remembered in DynamoDB for days (docs/architecture.md §3).

SQS FIFO forgets a deduplication id after 5 minutes, while senders retry for up to 3 days and a captured signed
body can be sent again at any time. Powertools' Idempotency utility, with its DynamoDB persistence layer, records a
delivery's answer once it is queued; the same delivery later gets that answer and is not queued again. A failed
send is not recorded (Powertools deletes the in-progress record), so the sender's retry is handled afresh.
Powertools and boto3 are imported on first use, like the queue's client, to keep receive's cold start lean.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from signup_relay.caches import per_container
from signup_relay.config import get_settings
from signup_relay.observability import logger

# The records outlive deployments: a key that does not depend on the function's name or this module's path.
KEY_PREFIX = "signup-relay-receive"
SECONDS_PER_DAY = 86_400


@dataclass(frozen=True)
class DeliveryLog:
    """`once(key, send)`: `send()`'s answer, recorded under `key`; a key seen before gets the recorded answer."""

    persistence: Any  # a Powertools BasePersistenceLayer (DynamoDBPersistenceLayer when deployed)
    expires_after_seconds: int
    lambda_context: Any = None  # lets an in-progress record expire with the invocation that wrote it

    def for_invocation(self, lambda_context: Any) -> DeliveryLog:
        return replace(self, lambda_context=lambda_context)

    def once(self, key: Mapping[str, str], send: Callable[[], dict[str, str]]) -> tuple[dict[str, str], bool]:
        """(`send()`'s answer, False) for a new key, recorded only if `send` returns; (the recorded answer, True)
        for a key recorded within the window. An exception from `send` propagates and records nothing.

        When the table cannot be used, or the same key is being sent right now by another invocation, `send()`
        runs unrecorded: SQS's 5-minute dedupe still drops a duplicate, and a sign-up is never refused for it.
        """
        from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function
        from aws_lambda_powertools.utilities.idempotency.exceptions import (
            IdempotencyAlreadyInProgressError,
            IdempotencyInconsistentStateError,
            IdempotencyPersistenceLayerError,
        )

        repeated = False

        def recorded(response: Any, idempotent_data: Any) -> Any:
            nonlocal repeated
            repeated = True
            return response

        config = IdempotencyConfig(
            expires_after_seconds=self.expires_after_seconds,
            hash_function="sha256",
            response_hook=recorded,
            lambda_context=self.lambda_context,
        )

        @idempotent_function(
            data_keyword_argument="delivery", persistence_store=self.persistence, config=config, key_prefix=KEY_PREFIX
        )
        def send_once(delivery: dict[str, str]) -> dict[str, str]:
            return send()

        try:
            answer: dict[str, str] = send_once(delivery=dict(key))
        except IdempotencyAlreadyInProgressError:
            logger.warning("the same delivery is being queued by another invocation", extra=dict(key))
            return send(), False
        except (IdempotencyPersistenceLayerError, IdempotencyInconsistentStateError) as error:
            logger.error(
                "delivery table unavailable: queued without the replay window",
                extra={**key, "error_class": type(error.__cause__ or error).__name__},
            )
            return send(), False
        return answer, repeated


@per_container(maxsize=1)
def get_delivery_log() -> DeliveryLog | None:
    """The container's delivery log on DELIVERY_IDEMPOTENCY_TABLE; None when no table is configured."""
    settings = get_settings()
    if not settings.delivery_idempotency_table:
        return None
    import boto3
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer
    from botocore.config import Config

    # Short timeouts like the queue's: webhook senders give up after 5-30 s.
    config = Config(connect_timeout=2, read_timeout=5, retries={"max_attempts": 3, "mode": "standard"})
    persistence = DynamoDBPersistenceLayer(
        table_name=settings.delivery_idempotency_table, boto3_client=boto3.client("dynamodb", config=config)
    )
    return DeliveryLog(
        persistence=persistence, expires_after_seconds=settings.delivery_idempotency_days * SECONDS_PER_DAY
    )

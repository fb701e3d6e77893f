"""receive: POST /hooks/{route} -> verify, parse, queue -> 200 {"accepted": true, "id": ...}

The HTTP contract is docs/architecture.md §3.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from aws_lambda_powertools.logging import correlation_paths

from signup_relay.config import get_settings
from signup_relay.errors import QUOTE_LIMIT, ReceiveError, RelayError, SignatureError, bounded
from signup_relay.models import RawRequest
from signup_relay.observability import logger, metrics
from signup_relay.receive.intake import accept_webhook, fetch_webhook_secret

# API Gateway routes only `POST /hooks/{route}` here, so this function answers one route itself: Powertools'
# event handler package would load every resolver (AppSync, Bedrock, asyncio, OpenAPI) into each cold start.


def _json(status: int, body: dict[str, Any]) -> dict[str, Any]:
    """An HTTP API (payload v2) response with a compact JSON body."""
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps(body, separators=(",", ":")),
        "isBase64Encoded": False,
    }


def receive_webhook(event: dict[str, Any], context: Any) -> dict[str, Any]:
    from signup_relay.aws.dead_letters import get_dead_letter_queue
    from signup_relay.aws.delivery_log import get_delivery_log
    from signup_relay.aws.queue import get_signup_queue
    from signup_relay.routes import get_routes

    route = (event.get("pathParameters") or {}).get("route")
    if not isinstance(route, str):
        logger.warning("unknown route", extra={"path": _path(event)})
        raise SignatureError("unknown route")
    settings = get_settings()
    deliveries = get_delivery_log()
    accepted = accept_webhook(
        route,
        _raw_request(event),
        routes=get_routes(),
        fetch_secret=lambda ref: fetch_webhook_secret(ref, max_age=settings.secret_max_age_seconds),
        queue=get_signup_queue(),
        dlq=get_dead_letter_queue(),
        max_body_bytes=settings.max_body_bytes,
        deliveries=deliveries.for_invocation(context) if deliveries else None,
    )
    metrics.add_metric(name="accepted", unit="Count", value=1)
    return _json(200, {"accepted": True, "id": accepted.id})


def _raw_request(event: dict[str, Any]) -> RawRequest:
    """The delivery exactly as sent: signatures are computed over these bytes."""
    body = event.get("body") or ""
    raw = base64.b64decode(body) if event.get("isBase64Encoded") else body.encode("utf-8")
    http = event["requestContext"]["http"]
    return RawRequest(
        method=http["method"],
        path=event["rawPath"],
        headers={name.lower(): value for name, value in (event.get("headers") or {}).items()},
        query=dict(event.get("queryStringParameters") or {}),
        raw_query=event.get("rawQueryString") or "",
        body=raw,
        source_ip=http["sourceIp"],
    )


def answer_receive_error(error: ReceiveError, event: dict[str, Any]) -> dict[str, Any]:
    body = error.answer_body()
    log = logger.warning if error.status < 500 else logger.error
    log(
        "delivery refused",
        extra={"status": error.status, "error_class": error.error_class, "reason": error.message, "path": _path(event)},
    )
    metrics.add_metric(name=f"refused_{error.status}", unit="Count", value=1)
    return _json(error.status, body)


def answer_config_error(error: RelayError) -> dict[str, Any]:
    # A broken routes file or secret: the sender should retry once the operator has fixed it.
    logger.error("receive is misconfigured", extra={"error_class": error.error_class, "detail": error.message})
    return _json(500, {"error": "internal_error"})


def _path(event: dict[str, Any]) -> str:
    """The path and the query parameter names: never their values, which may be a token or an email."""
    names = dict.fromkeys(bounded(name, QUOTE_LIMIT) for name in event.get("queryStringParameters") or {})
    return bounded(event.get("rawPath") or "") + ("?" + "&".join(names) if names else "")


# No Powertools Tracer here, even with DETAILED_TRACING: its X-Ray SDK import would double this function's cold
# start; Lambda's active tracing still records each invocation.
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    try:
        return receive_webhook(event, context)
    except ReceiveError as error:
        return answer_receive_error(error, event)
    except RelayError as error:
        return answer_config_error(error)

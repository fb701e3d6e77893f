"""receive: POST /hooks/{route} -> verify, parse, queue -> 200 {"accepted": true, "id": ...}

The HTTP contract is docs/architecture.md §3.
"""

from __future__ import annotations

import base64
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.logging import correlation_paths

from signup_relay.config import get_settings
from signup_relay.errors import QUOTE_LIMIT, ReceiveError, RelayError, SignatureError, bounded
from signup_relay.models import RawRequest
from signup_relay.observability import logger, metrics
from signup_relay.receive.intake import accept_webhook, fetch_webhook_secret

app = APIGatewayHttpResolver()


def _json(status: int, body: dict[str, Any]) -> Response:
    return Response(status_code=status, content_type="application/json", body=body)


@app.post("/hooks/<route>")
def receive_webhook(route: str) -> Response:
    from signup_relay.aws.dead_letters import get_dead_letter_queue
    from signup_relay.aws.delivery_log import get_delivery_log
    from signup_relay.aws.queue import get_signup_queue
    from signup_relay.routes import get_routes

    settings = get_settings()
    deliveries = get_delivery_log()
    accepted = accept_webhook(
        route,
        _raw_request(),
        routes=get_routes(),
        fetch_secret=lambda ref: fetch_webhook_secret(ref, max_age=settings.secret_max_age_seconds),
        queue=get_signup_queue(),
        dlq=get_dead_letter_queue(),
        max_body_bytes=settings.max_body_bytes,
        deliveries=deliveries.for_invocation(app.lambda_context) if deliveries else None,
    )
    metrics.add_metric(name="accepted", unit="Count", value=1)
    return _json(200, {"accepted": True, "id": accepted.id})


def _raw_request() -> RawRequest:
    """The delivery exactly as sent: signatures are computed over these bytes."""
    event = app.current_event
    body = event.body or ""
    raw = base64.b64decode(body) if event.is_base64_encoded else body.encode("utf-8")
    return RawRequest(
        method=event.request_context.http.method,
        path=event.raw_path,
        headers={name.lower(): value for name, value in (event.headers or {}).items()},
        query=dict(event.query_string_parameters or {}),
        raw_query=event.raw_query_string or "",
        body=raw,
        source_ip=event.request_context.http.source_ip,
    )


@app.exception_handler(ReceiveError)
def answer_receive_error(error: ReceiveError) -> Response:
    body = error.answer_body()
    log = logger.warning if error.status < 500 else logger.error
    log(
        "delivery refused",
        extra={"status": error.status, "error_class": error.error_class, "reason": error.message, "path": _path()},
    )
    metrics.add_metric(name=f"refused_{error.status}", unit="Count", value=1)
    return _json(error.status, body)


@app.not_found
def answer_unmatched_path(error: NotFoundError) -> Response:
    # A route segment the resolver's pattern does not take (a quote, a backslash): an unknown route too.
    logger.warning("unknown route", extra={"path": _path()})
    return answer_receive_error(SignatureError("unknown route"))


@app.exception_handler(RelayError)
def answer_config_error(error: RelayError) -> Response:
    # A broken routes file or secret: the sender should retry once the operator has fixed it.
    logger.error("receive is misconfigured", extra={"error_class": error.error_class, "detail": error.message})
    return _json(500, {"error": "internal_error"})


def _path() -> str:
    """The path and the query parameter names: never their values, which may be a token or an email."""
    event = app.current_event
    names = dict.fromkeys(bounded(name, QUOTE_LIMIT) for name in event.query_string_parameters or {})
    return bounded(event.raw_path) + ("?" + "&".join(names) if names else "")


# No Powertools Tracer here, even with DETAILED_TRACING: its X-Ray SDK import would double this function's cold
# start; Lambda's active tracing still records each invocation.
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)

"""Accept one webhook delivery: route, size, secret, source (verify + parse + map), queue once; or a typed error.

Collaborators come in as arguments (routes, secret fetcher, queue, DLQ, delivery log, clock);
`functions/receive/app.py` wires the real ones. Heavy modules (boto3, the sources) load on first use to keep the
receive cold start lean.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from signup_relay.aws.dead_letters import dead_letter
from signup_relay.clock import utc_now
from signup_relay.emails import contact_key
from signup_relay.errors import (
    QUOTE_LIMIT,
    ConfigError,
    PayloadTooLargeError,
    ReceiveError,
    SecretUnavailableError,
    SignatureError,
    UnknownRouteError,
    bounded,
)
from signup_relay.models import QueuedSignup, RawRequest, Signup, to_json
from signup_relay.observability import logger, mask_email
from signup_relay.receive.redaction import redact_kept_body, redact_mapping

if TYPE_CHECKING:
    from signup_relay.aws.dead_letters import DeadLetterQueue
    from signup_relay.aws.delivery_log import DeliveryLog
    from signup_relay.aws.queue import SignupQueue
    from signup_relay.routes import Route, Routes, SecretRef


@dataclass(frozen=True)
class Accepted:
    """A queued sign-up: `id` is answered to the sender and is the FIFO dedupe id."""

    id: str
    message_id: str
    repeated: bool = False  # queued by an earlier delivery within the delivery log's window: not queued again


def submission_id(delivery_id: str | None, body: bytes) -> str:
    """The source's delivery id when it has one (SQS-safe, else hashed), else sha256 of the raw body."""
    from signup_relay.aws.queue import sqs_safe_id

    if delivery_id and delivery_id.strip():
        return sqs_safe_id(delivery_id.strip())
    return hashlib.sha256(body).hexdigest()


def known_route(routes: Routes, name: str) -> Route:
    """The route called `name`; an unknown one is refused like a wrong token (docs/architecture.md §3), so the
    answer does not tell which route names exist. Only the log says that the route is unknown."""
    try:
        return routes.get(name)
    except UnknownRouteError:
        logger.warning("unknown route", extra={"route": bounded(name, QUOTE_LIMIT)})
        raise SignatureError("unknown route") from None


def fetch_webhook_secret(ref: SecretRef, *, max_age: int) -> str:
    """The route's secret: `ref.key` of the JSON secret `ref.secret_id` (Powertools Parameters, cached)."""
    from aws_lambda_powertools.utilities import parameters
    from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError, TransformParameterError

    try:
        values = parameters.get_secret(ref.secret_id, transform="json", max_age=max_age)
    except TransformParameterError as error:
        raise ConfigError(f"secret {ref.secret_id!r} is not a JSON object") from error
    except GetParameterError as error:
        raise SecretUnavailableError("the webhook secret is unavailable, retry later") from error
    value = values.get(ref.key) if isinstance(values, dict) else None
    if not isinstance(value, str) or not value:
        raise ConfigError(f"secret {ref.secret_id!r} has no string key {ref.key!r}")
    return value


def receive_submission(route: Route, request: RawRequest, *, secret: str, now: datetime) -> Signup:
    """Verify, parse and map one delivery for `route`: the receive side's three steps, in this one place.

    Raises SignatureError (401), UnsupportedMediaTypeError (415), UndecodableBodyError (400) or
    SubmissionInvalidError (422, with field_errors); never anything else for any body or headers.
    """
    from signup_relay.receive.mapping import map_submission
    from signup_relay.receive.sources import get_source

    source = get_source(route.source)
    source.verify(request, secret, now)
    submission = source.parse(request)
    return map_submission(submission, route, now=now, secret=secret)


def accept_webhook(
    route_name: str,
    request: RawRequest,
    *,
    routes: Routes,
    fetch_secret: Callable[[SecretRef], str],
    queue: SignupQueue,
    dlq: DeadLetterQueue,
    max_body_bytes: int,
    deliveries: DeliveryLog | None = None,
    clock: Callable[[], datetime] = utc_now,
) -> Accepted:
    """Authenticate, parse and queue one delivery; raise a ReceiveError (HTTP status) otherwise.

    Checks run in the order of docs/architecture.md §3: body size, route, secret, verify, parse, map, queue.

    Authenticated-but-unusable deliveries (415, 400, 422) are kept in the DLQ with their reason before the
    error is raised; if the DLQ cannot take them the sender gets a 503 and retries. With a delivery log, a delivery
    (route + submission id) queued within its window is answered with the same id and not queued again.
    """
    # The size first: an oversized body answers 413 whether the route exists or not.
    if len(request.body) > max_body_bytes:
        raise PayloadTooLargeError(f"body is {len(request.body)} bytes; the limit is {max_body_bytes}")
    route = known_route(routes, route_name)
    secret = fetch_secret(route.secret)
    now = clock()
    try:
        signup = receive_submission(route, request, secret=secret, now=now)
    except ReceiveError as error:
        if error.keep_in_dlq:
            _keep_rejected_delivery(route_name, request, error, secret=secret, dlq=dlq, now=now)
        raise

    queued = QueuedSignup(id=submission_id(signup.delivery_id, request.body), received_at=now, signup=signup)

    def send() -> dict[str, str]:
        message_id = queue.send(to_json(queued), group_id=contact_key(signup.email), dedupe_id=queued.id)
        return {"id": queued.id, "message_id": message_id}

    # Keyed only here, after verification: an unauthenticated request never reaches the log, so it cannot make a
    # real delivery look already queued. Only a send that succeeded is recorded (a 503 stays retryable).
    if deliveries is None:
        answer, repeated = send(), False
    else:
        answer, repeated = deliveries.once({"route": route_name, "submission_id": queued.id}, send)
    logger.info(
        "delivery already queued: answered, not queued again" if repeated else "sign-up queued",
        extra={"route": route_name, "source": signup.source, "queued_id": queued.id, "email": mask_email(signup.email)},
    )
    return Accepted(id=answer["id"], message_id=answer["message_id"], repeated=repeated)


def _keep_rejected_delivery(
    route_name: str, request: RawRequest, error: ReceiveError, *, secret: str, dlq: DeadLetterQueue, now: datetime
) -> None:
    # Some senders echo the secret in the body (Jotform's webhookURL, a `token` field), or a third party's
    # credentials (an api_key in that URL): the kept body and headers have none of them.
    record = dead_letter(
        "receive",
        route=route_name,
        error_class=error.error_class,
        reason=error.message,
        failed_at=now,
        field_errors=getattr(error, "field_errors", {}),
        body=redact_kept_body(request.body, request.headers.get("content-type"), secret),
        body_id=hashlib.sha256(request.body).hexdigest(),
        received_at=now,
        content_type=request.headers.get("content-type"),
        headers=redact_mapping(request.headers, secret),
    )
    dlq.send(record, dedupe_id=f"receive-{route_name}-{record.queued_id}")
    logger.warning(
        "delivery kept in the DLQ",
        extra={"route": route_name, "error_class": error.error_class, "queued_id": record.queued_id},
    )

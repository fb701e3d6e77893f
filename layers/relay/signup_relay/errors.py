"""Typed errors. Their meaning is decided in one place each: HTTP status in `receive`, retry-or-DLQ in `upsert`."""

from __future__ import annotations

from typing import Any

# Error messages may quote what a sender sent; they are answered, logged and kept in the DLQ, so they stay short.
QUOTE_LIMIT = 100
DETAIL_LIMIT = 300


def bounded(text: str, limit: int = DETAIL_LIMIT) -> str:
    """`text` cut to `limit` characters, an ellipsis marking the cut."""
    return text if len(text) <= limit else text[:limit] + "…"


def quoted(value: str, limit: int = QUOTE_LIMIT) -> str:
    """A sender's value quoted in an error message: at most `limit` of its characters."""
    return repr(bounded(value, limit))


class RelayError(Exception):
    """Base of every error signup-relay raises on purpose."""

    error_class = "relay_error"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


# --- Outcome of talking to Constant Contact (upsert side) -----------------------------------


class TransientError(RelayError):
    """Worth retrying later unchanged: the item fails and SQS redelivers it."""

    error_class = "transient"


class PermanentError(RelayError):
    """Retrying unchanged cannot help: the item goes to the DLQ with its reason."""

    error_class = "permanent"


class AuthError(TransientError):
    """401 from Constant Contact that survived a token re-read and a refresh request."""

    error_class = "auth"


class ReauthorizationRequiredError(PermanentError):
    """The refresh token is dead (`invalid_grant`): an operator must run `connect` again."""

    error_class = "reauthorization_required"


class ThrottledError(TransientError):
    """429 `throttled`: more than the per-second limit; back off about a second."""

    error_class = "throttled"


class QuotaExceededError(TransientError):
    """429 `quota_exceeded`: the daily quota is spent; keep messages queued until 00:00 UTC.

    `quota_key` names whose quota: None for the V3 app key (the fleet's), else the id of the V2 API key the raising
    client used (`ConstantContactV2Client.quota_key`; docs/architecture.md §12).
    """

    error_class = "quota_exceeded"
    quota_key: str | None = None


class ConflictError(TransientError):
    """409: on POST /contacts the email exists; on sign_up_form a concurrent write to the same contact."""

    error_class = "conflict"


class ServerError(TransientError):
    """5xx or a connection failure."""

    error_class = "server"


class ValidationError(PermanentError):
    """400/415: Constant Contact refused the payload; resending it unchanged cannot succeed."""

    error_class = "validation"


class NotFoundError(PermanentError):
    """404 for a resource we named."""

    error_class = "not_found"


class ForbiddenError(PermanentError):
    """403: the connected user lacks a privilege or the app is deactivated."""

    error_class = "forbidden"


# --- Outcome of receiving a webhook (receive side); each maps to one HTTP status -------------


class ReceiveError(RelayError):
    """An error that answers the webhook sender with `status` and a JSON body (its message bounded)."""

    status = 400
    error_class = "bad_request"
    keep_in_dlq = False

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(bounded(message), **details)

    @property
    def answer_detail(self) -> str:
        """The `detail` the sender is answered."""
        return self.message

    def answer_body(self) -> dict[str, Any]:
        """The JSON body the sender is answered: the class, the detail, and what helps fix it."""
        return {"error": self.error_class, "detail": self.answer_detail}


class UnknownRouteError(ReceiveError):
    """A route name the routes file does not have. `receive` answers it as a SignatureError (401), so route
    names cannot be enumerated; the DLQ replay reports it under its own class."""

    status = 404
    error_class = "unknown_route"


class SignatureError(ReceiveError):
    """Bad or missing signature / token, a timestamp outside the window, or an unknown route. Nothing is stored.

    Every one answers the same detail: which check failed (or that the route does not exist) would tell a caller
    which route names exist and which sender each expects. The message, for the log, says which.
    """

    status = 401
    error_class = "unauthorized"
    ANSWER = "missing or wrong signature or token"

    @property
    def answer_detail(self) -> str:
        return self.ANSWER


class PayloadTooLargeError(ReceiveError):
    status = 413
    error_class = "payload_too_large"


class UnsupportedMediaTypeError(ReceiveError):
    """A content type the route's sender never sends; `accepted` lists the ones it takes."""

    status = 415
    error_class = "unsupported_media_type"
    keep_in_dlq = True

    def __init__(self, message: str, *, accepted: list[str] | None = None, **details: Any) -> None:
        super().__init__(message, **details)
        self.accepted = list(accepted or [])

    def answer_body(self) -> dict[str, Any]:
        return {**super().answer_body(), "accepted": self.accepted} if self.accepted else super().answer_body()


class UndecodableBodyError(ReceiveError):
    status = 400
    error_class = "undecodable_body"
    keep_in_dlq = True


class SubmissionInvalidError(ReceiveError):
    """Authenticated, but no usable email or invalid fields. `field_errors` maps field -> problem."""

    status = 422
    error_class = "invalid_submission"
    keep_in_dlq = True

    MAX_FOUND = 30

    def __init__(
        self, message: str, field_errors: dict[str, str], *, found: list[str] | None = None, **details: Any
    ) -> None:
        super().__init__(message, **details)
        self.field_errors = {bounded(field, QUOTE_LIMIT): bounded(problem) for field, problem in field_errors.items()}
        # The form fields the submission did carry (names only): what a route's `fields:` mapping can point at.
        self.found = [bounded(name, QUOTE_LIMIT) for name in (found or [])[: self.MAX_FOUND]]

    def answer_body(self) -> dict[str, Any]:
        body = {**super().answer_body(), "fields": self.field_errors}
        return {**body, "found": self.found} if self.found else body


class QueueUnavailableError(ReceiveError):
    status = 503
    error_class = "queue_unavailable"


class ConfigError(RelayError):
    """The routes file or settings are invalid; the message names the route and key."""

    error_class = "config"


class SecretUnavailableError(ReceiveError):
    """The route's webhook secret could not be read right now (Secrets Manager error): the sender retries."""

    status = 503
    error_class = "secret_unavailable"

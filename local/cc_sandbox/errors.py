"""Error bodies exactly as Constant Contact shapes them: an ARRAY of {error_key, error_message}, except 401/429."""

from __future__ import annotations

from typing import Any

VALIDATION_KEY = "contacts.api.validation.error"
NOT_FOUND_KEY = "contacts.api.not_found"
CONFLICT_KEY = "contacts.api.conflict"
UNSUPPORTED_MEDIA_KEY = "contacts.api.unsupported_media_type"
FORBIDDEN_KEY = "contacts.api.forbidden"

UNAUTHORIZED_BODY = {"error_key": "unauthorized", "error_message": "Unauthorized"}
THROTTLED_BODY = {"error_key": "throttled", "error_message": "Too Many Requests"}
QUOTA_BODY = {"error_key": "quota_exceeded", "error_message": "Limit Exceeded"}

_STATUS_ERRORS = {
    400: (VALIDATION_KEY, "Bad request."),
    403: (FORBIDDEN_KEY, "Forbidden request. You lack the necessary scopes or privileges."),
    404: (NOT_FOUND_KEY, "The requested resource was not found."),
    405: ("method_not_allowed", "Method not allowed."),
    409: (CONFLICT_KEY, "The resource you are creating or updating conflicts with an existing resource."),
    415: (UNSUPPORTED_MEDIA_KEY, "Unsupported Media Type; the payload must be in JSON format."),
    500: ("server_error", "There was a problem with our internal service."),
    502: ("bad_gateway", "Bad gateway."),
    503: ("service_unavailable", "Our internal service is temporarily unavailable."),
    504: ("gateway_timeout", "Gateway timeout."),
}


class ApiError(Exception):
    """An HTTP error answer: status plus the exact JSON body to send."""

    def __init__(self, status: int, body: Any) -> None:
        super().__init__(f"{status}: {body}")
        self.status = status
        self.body = body


def error_array(key: str, *messages: str) -> list[dict[str, str]]:
    return [{"error_key": key, "error_message": m} for m in messages]


def api_error(status: int, message: str | None = None, key: str | None = None) -> ApiError:
    default_key, default_message = _STATUS_ERRORS.get(status, ("error", "Error."))
    return ApiError(status, error_array(key or default_key, message or default_message))


def status_body(status: int) -> Any:
    """The body an injected fault of this status answers with (single objects for 401/429, arrays otherwise)."""
    if status == 401:
        return dict(UNAUTHORIZED_BODY)
    if status == 429:
        return dict(THROTTLED_BODY)
    return api_error(status).body


def validation_error(*messages: str) -> ApiError:
    return ApiError(400, error_array(VALIDATION_KEY, *messages))


def not_found(message: str) -> ApiError:
    return ApiError(404, error_array(NOT_FOUND_KEY, message))


def conflict(message: str) -> ApiError:
    return ApiError(409, error_array(CONFLICT_KEY, message))


def concurrent_write() -> ApiError:
    """sign_up_form's own 409: not the duplicate-email conflict of POST /contacts (spec wording)."""
    return conflict("You sent simultaneous requests that are attempting to modify the same contact.")


class OAuthError(Exception):
    """An OAuth-style error answer of the authorization server: {"error", "error_description"}."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(f"{status} {error}: {description}")
        self.status = status
        self.body = {"error": error, "error_description": description}

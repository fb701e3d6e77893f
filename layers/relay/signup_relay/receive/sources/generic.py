"""Generic flat sender: Zapier "Webhooks by Zapier", Make's HTTP module, curl, any custom script.

Body: a flat JSON object (nested objects become dotted keys), a URL-encoded form or multipart/form-data.
Auth: the route token in `X-Signup-Relay-Token` (or `Authorization: Bearer`, or `?token=`).
Delivery id: the `Idempotency-Key` (or `X-Request-Id`) header when the sender sets one.
"""

from __future__ import annotations

from datetime import datetime

from signup_relay.models import RawRequest
from signup_relay.receive.sources._common import answers_from_mapping, decode_flat, header, verify_token
from signup_relay.receive.submission import Submission

NAME = "generic"
DELIVERY_ID_HEADERS = ("idempotency-key", "x-idempotency-key", "x-request-id")
# Keys a sender may add that are never answers (the token must not leak into a contact).
IGNORED_KEYS = ("token", "_token", "api_key")


def verify(request: RawRequest, secret: str, now: datetime) -> None:
    """Constant-time check of the route token."""
    verify_token(request, secret)


def parse(request: RawRequest) -> Submission:
    data = decode_flat(request)
    delivery_id = next((value for name in DELIVERY_ID_HEADERS if (value := header(request, name))), None)
    return Submission(
        source=NAME,
        answers=answers_from_mapping(data, skip=IGNORED_KEYS),
        delivery_id=delivery_id,
    )

"""Standard Webhooks (https://www.standardwebhooks.com): the scheme for senders we control (Apps Script,
Zapier/Make code steps) and any sender that adopted it.

`webhook-id`, `webhook-timestamp` (unix seconds, 5-minute window) and `webhook-signature: v1,<base64>` (several
during rotation) over "{id}.{timestamp}.{body}", keyed by the base64 `whsec_...` route secret; `svix-*` header
names are accepted too. Signing and verification use the `standardwebhooks` package. Body: a flat JSON object of
fields, or an envelope {"type": ..., "data": {...}}. Delivery id: `webhook-id`.
"""

from __future__ import annotations

import binascii
from datetime import UTC, datetime

from standardwebhooks.webhooks import EmptyWebhookSecretError, Webhook, WebhookVerificationError

from signup_relay.errors import SignatureError, UndecodableBodyError
from signup_relay.models import RawRequest
from signup_relay.receive.sources._common import (
    answers_from_mapping,
    b64decode,
    check_window,
    decode_json,
    header,
    mismatch,
    parse_datetime,
    parse_timestamp,
    require_secret,
    text_of,
)
from signup_relay.receive.submission import Submission

NAME = "standard_webhooks"
SIGNED = "v1,<base64 HMAC-SHA256 of '<webhook-id>.<webhook-timestamp>.<raw body>'> (one of its space-separated values)"


def _header(request: RawRequest, name: str) -> str:
    value = header(request, f"webhook-{name}") or header(request, f"svix-{name}")
    if not value:
        raise SignatureError(f"missing webhook-{name} header")
    return value.strip()


def sign(body: bytes, secret: str, msg_id: str, timestamp: int) -> str:
    """The `webhook-signature` header value for `body`."""
    moment = datetime.fromtimestamp(timestamp, tz=UTC)
    return Webhook(secret).sign(msg_id=msg_id, timestamp=moment, data=body.decode("utf-8"))


def verify(request: RawRequest, secret: str, now: datetime) -> None:
    require_secret(secret)
    msg_id = _header(request, "id")
    raw_timestamp = _header(request, "timestamp")
    signatures = _header(request, "signature")
    # The package checks its own 5-minute window on the wall clock only: the window is checked here against `now`.
    check_window(parse_timestamp(raw_timestamp), now)
    if not raw_timestamp.isdigit() or "." in msg_id:
        raise SignatureError("malformed webhook-id or webhook-timestamp")
    try:
        webhook = Webhook(secret)
    except (EmptyWebhookSecretError, binascii.Error, ValueError):
        raise SignatureError("the route secret is not a valid whsec_ secret") from None
    # The package stops at the first entry that is not `version,<base64>`: only well-formed ones are passed on,
    # so one odd entry beside the right signature (a rotation) does not refuse the delivery.
    entries = " ".join(entry for entry in signatures.split() if _well_formed(entry))
    headers = {"webhook-id": msg_id, "webhook-timestamp": raw_timestamp, "webhook-signature": entries}
    try:
        webhook.verify(request.body, headers, json_parse=False)
    except UnicodeDecodeError:
        raise SignatureError("body is not UTF-8, so it cannot carry a Standard Webhooks signature") from None
    except WebhookVerificationError:
        # The package's own reason ("No matching signature found") adds nothing to which header and what is signed.
        raise SignatureError(mismatch("webhook-signature", SIGNED)) from None


def _well_formed(entry: str) -> bool:
    version, comma, value = entry.partition(",")
    return bool(version and comma and "," not in value and b64decode(value) and len(value) % 4 == 0)


def parse(request: RawRequest) -> Submission:
    data = decode_json(request)
    if not isinstance(data, dict):
        raise UndecodableBodyError("body is not a JSON object")
    fields = data["data"] if isinstance(data.get("data"), dict) and "type" in data else data
    return Submission(
        source=NAME,
        answers=answers_from_mapping(fields, skip=("type",) if fields is data else ()),
        delivery_id=text_of(header(request, "webhook-id") or header(request, "svix-id")),
        form_id=text_of(fields.get("form_id")),
        form_name=text_of(fields.get("form_name")),
        submitted_at=parse_datetime(data.get("timestamp")) if fields is not data else None,
    )

"""Webflow `form_submission` webhooks (Data API v2; the legacy v1 shape is read too).

Signed with `x-webflow-signature: <hex HMAC-SHA256("{x-webflow-timestamp}:{raw body}")>`, the timestamp in
milliseconds, rejected outside 5 minutes. Only webhooks created through the API (site token or OAuth app) are
signed; dashboard-created ones are not and cannot be used here. Delivery id: `payload.id`.
"""

from __future__ import annotations

from datetime import datetime

from signup_relay.errors import UndecodableBodyError
from signup_relay.models import RawRequest
from signup_relay.receive.sources._common import (
    check_signature,
    check_window,
    decode_json,
    hmac_sha256,
    index_by,
    obj,
    parse_datetime,
    parse_timestamp,
    require_header,
    require_secret,
    text_of,
    to_value,
)
from signup_relay.receive.submission import KIND_EMAIL, KIND_PHONE, Answer, Submission

NAME = "webflow"
SIGNATURE_HEADER = "x-webflow-signature"
TIMESTAMP_HEADER = "x-webflow-timestamp"
SIGNED = f"<hex HMAC-SHA256 of '<{TIMESTAMP_HEADER}>:<raw body>'>"


def sign(body: bytes, secret: str, timestamp_ms: str) -> str:
    return hmac_sha256(secret, timestamp_ms.encode() + b":" + body).hex()


def verify(request: RawRequest, secret: str, now: datetime) -> None:
    require_secret(secret)
    timestamp = require_header(request, TIMESTAMP_HEADER)
    check_signature(request, SIGNATURE_HEADER, sign(request.body, secret, timestamp), signed=SIGNED, hexadecimal=True)
    check_window(parse_timestamp(timestamp, milliseconds=True), now)


def _kind(field_type: str | None) -> str | None:
    """Webflow's schema fieldType, when it names the input type ("FormEmail", "FormPhone"...)."""
    field_type = (field_type or "").lower()
    if "email" in field_type:
        return KIND_EMAIL
    if "phone" in field_type or "tel" in field_type:
        return KIND_PHONE
    return None


def parse(request: RawRequest) -> Submission:
    event = decode_json(request)
    if not isinstance(event, dict):
        raise UndecodableBodyError("not a Webflow webhook: body is not an object")
    payload = obj(event.get("payload")) or event  # v1: no envelope
    data = payload.get("data")
    if not isinstance(data, dict):
        raise UndecodableBodyError("not a Webflow form submission: no data object")
    types = index_by(payload.get("schema"), "fieldName", "fieldType")
    answers = []
    for name, raw in data.items():
        value = to_value(raw)
        if value is not None:
            answers.append(Answer(key=str(name), value=value, label=str(name), kind=_kind(types.get(str(name)))))
    return Submission(
        source=NAME,
        answers=tuple(answers),
        delivery_id=text_of(payload.get("id")) or text_of(payload.get("_id")),
        form_id=text_of(payload.get("formId")) or text_of(payload.get("formElementId")),
        form_name=text_of(payload.get("name")),
        submitted_at=parse_datetime(payload.get("submittedAt") or payload.get("d")),
    )

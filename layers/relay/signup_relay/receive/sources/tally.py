"""Tally webhooks (`FORM_RESPONSE`): signed with `Tally-Signature: <base64 HMAC-SHA256(raw body)>`.

Fields are keyed by `key` (stable) with `label` and `type` (INPUT_EMAIL, INPUT_PHONE_NUMBER, CHECKBOXES...);
choice values are option ids resolved through the field's `options`. Delivery id: `eventId`.
"""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any

from signup_relay.errors import UndecodableBodyError
from signup_relay.models import RawRequest
from signup_relay.receive.sources._common import (
    check_signature,
    decode_json,
    hmac_sha256,
    index_by,
    parse_datetime,
    require_secret,
    scalar,
    text_of,
)
from signup_relay.receive.submission import (
    KIND_BOOLEAN,
    KIND_CHOICE,
    KIND_DATE,
    KIND_EMAIL,
    KIND_HIDDEN,
    KIND_NUMBER,
    KIND_PHONE,
    KIND_TEXT,
    KIND_URL,
    Answer,
    Submission,
    Value,
)

NAME = "tally"
SIGNATURE_HEADER = "tally-signature"
SIGNED = "<base64 HMAC-SHA256 of the raw body>"
KINDS = {
    "INPUT_EMAIL": KIND_EMAIL,
    "INPUT_PHONE_NUMBER": KIND_PHONE,
    "INPUT_TEXT": KIND_TEXT,
    "TEXTAREA": KIND_TEXT,
    "INPUT_NUMBER": KIND_NUMBER,
    "INPUT_DATE": KIND_DATE,
    "INPUT_LINK": KIND_URL,
    "HIDDEN_FIELDS": KIND_HIDDEN,
    "CALCULATED_FIELDS": KIND_HIDDEN,
    "MULTIPLE_CHOICE": KIND_CHOICE,
    "CHECKBOXES": KIND_CHOICE,
    "DROPDOWN": KIND_CHOICE,
    "MULTI_SELECT": KIND_CHOICE,
    "CHECKBOX": KIND_BOOLEAN,
}


def sign(body: bytes, secret: str) -> str:
    return base64.b64encode(hmac_sha256(secret, body)).decode()


def verify(request: RawRequest, secret: str, now: datetime) -> None:
    require_secret(secret)
    check_signature(request, SIGNATURE_HEADER, sign(request.body, secret), signed=SIGNED)


def _value(field: dict[str, Any]) -> Value | None:
    raw = field.get("value")
    names = index_by(field.get("options"), "id", "text")
    if isinstance(raw, list):
        texts = [names.get(text) or text for text in (scalar(item) for item in raw) if text]
        return tuple(t for t in texts if t)
    if isinstance(raw, str) and raw in names:
        return names[raw] or raw
    return scalar(raw)


def parse(request: RawRequest) -> Submission:
    event = decode_json(request)
    data = event.get("data") if isinstance(event, dict) else None
    if not isinstance(data, dict):
        raise UndecodableBodyError("not a Tally webhook: no data object")
    answers: list[Answer] = []
    for field in data.get("fields") or ():
        if not isinstance(field, dict):
            continue
        key = text_of(field.get("key"))
        value = _value(field)
        if key is None or value is None:
            continue
        kind = KINDS.get(str(field.get("type")))
        answers.append(Answer(key=key, value=value, label=text_of(field.get("label")), kind=kind))
    return Submission(
        source=NAME,
        answers=tuple(answers),
        delivery_id=text_of(event.get("eventId")) or text_of(data.get("responseId")),
        form_id=text_of(data.get("formId")),
        form_name=text_of(data.get("formName")),
        submitted_at=parse_datetime(data.get("createdAt") or event.get("createdAt")),
    )
